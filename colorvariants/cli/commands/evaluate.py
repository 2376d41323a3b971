"""``colorvariants evaluate``: the retrieval metrics of an embedding set under a named protocol (default:
recall@k and mAP@R of shared/docs/protocol.md; ``--protocol inshop``: DeepFashion In-shop's query/gallery)."""

from __future__ import annotations

import argparse

from colorvariants.cli.registry import register
from colorvariants.cli.rerank_arg import rerank_spec
from colorvariants.errors import ColorVariantsError
from colorvariants.metrics.retrieval import DEFAULT_KS
from colorvariants.retrieval.choices import PROTOCOL_NAMES, RERANKER_NAMES

# The registry's names from colorvariants.retrieval.choices (which imports no faiss/torch for --help).
PROTOCOL_CHOICES = PROTOCOL_NAMES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embeddings", required=True, help="embedding-set folder")
    parser.add_argument("--manifest", default=None,
                        help="manifest to take style_id/split (and inshop_status) from, joined on image_path, "
                             "product_id")
    parser.add_argument("--split", default=None,
                        help="evaluate only this split, e.g. test (styles never trained on)")
    parser.add_argument("--protocol", choices=PROTOCOL_CHOICES, default="default",
                        help="default: colour variants (shared/docs/protocol.md); inshop: DeepFashion In-shop's "
                             "official query/gallery split (needs the inshop_status column the importer writes)")
    parser.add_argument("--out", required=True, help="metrics JSON to write")
    parser.add_argument("--ks", default=",".join(map(str, DEFAULT_KS)), help="recall cut-offs, comma-separated")
    parser.add_argument("--batch-size", type=int, default=1024, help="queries per exact-search batch")
    parser.add_argument("--memory-budget", default=None,
                        help="RAM the gallery may take, e.g. 2GB; a larger set is searched in streamed blocks "
                             "(default: half the available RAM)")
    parser.add_argument("--rerank", default=None, type=rerank_spec,
                        help=f"re-rank each query's candidates on the set's kNN graph: {', '.join(RERANKER_NAMES)} "
                             "(settings as NAME:key=value,...; default: plain cosine)")
    parser.add_argument("--candidates", type=int, default=100, help="neighbours re-ranked per query")


def run(args: argparse.Namespace) -> int:
    import os
    import platform
    import time

    from colorvariants.io import write_json
    from colorvariants.retrieval.index.base import gpu_count
    from colorvariants.retrieval.protocols import PROTOCOLS, ProtocolOptions
    from colorvariants.retrieval.store import EmbeddingSet

    try:
        ks = tuple(int(k) for k in args.ks.split(",") if k.strip())
    except ValueError:
        raise ColorVariantsError(f"--ks must be integers separated by commas; got {args.ks!r}. "
                                 "Fix: e.g. --ks 1,5,10") from None
    from colorvariants.retrieval.index.auto import parse_memory

    try:
        budget = parse_memory(args.memory_budget) if args.memory_budget is not None else None
    except ValueError as exc:
        raise ColorVariantsError(f"--memory-budget: {exc}. Fix: e.g. --memory-budget 4GB") from None
    protocol = PROTOCOLS[args.protocol]
    t0 = time.perf_counter()
    es = EmbeddingSet.load(args.embeddings)
    opts = ProtocolOptions(split=args.split, manifest=args.manifest, ks=ks, batch_size=args.batch_size,
                           memory_budget=budget, rerank=args.rerank, candidates=args.candidates)
    metrics = protocol.evaluate(es, opts)
    wall = time.perf_counter() - t0
    report = {
        **metrics,
        "protocol": protocol.description,
        "protocol_name": protocol.name,
        "embeddings": {"path": str(args.embeddings), **{k: v for k, v in es.meta.items() if k != "files"}},
        "wall_s": round(wall, 3),
        "hardware": {"machine": platform.machine(), "cpus": os.cpu_count(), "gpus_faiss": gpu_count(),
                     "python": platform.python_version()},
    }
    write_json(args.out, report)
    print(protocol.summary(metrics, ks))
    print(f"wrote {args.out}")
    return 0


register(
    "evaluate", "recall@k (and mAP@R) of an embedding set by exact search, under a named evaluation protocol",
    add_arguments, run,
)
