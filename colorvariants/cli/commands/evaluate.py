"""``colorvariants evaluate``: the protocol's retrieval metrics (recall@k, mAP@R) of an embedding set."""

from __future__ import annotations

import argparse

from colorvariants.cli.registry import register


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embeddings", required=True, help="embedding-set folder")
    parser.add_argument("--manifest", default=None,
                        help="manifest to take style_id/split from (joined on image_path, product_id)")
    parser.add_argument("--split", default=None,
                        help="evaluate only this split, e.g. test (styles never trained on)")
    parser.add_argument("--out", required=True, help="metrics JSON to write")
    parser.add_argument("--ks", default="1,5,10,20", help="recall cut-offs, comma-separated")
    parser.add_argument("--batch-size", type=int, default=1024, help="queries per exact-search batch")


def run(args: argparse.Namespace) -> int:
    import os
    import platform
    import time

    from colorvariants.io import write_json
    from colorvariants.retrieval.evaluate import evaluate_embeddings
    from colorvariants.retrieval.index.base import gpu_count
    from colorvariants.retrieval.store import EmbeddingSet

    try:
        ks = tuple(int(k) for k in args.ks.split(",") if k.strip())
    except ValueError:
        raise SystemExit(f"error: --ks must be integers separated by commas; got {args.ks!r}") from None
    t0 = time.perf_counter()
    es = EmbeddingSet.load(args.embeddings)
    metrics = evaluate_embeddings(
        es, split=args.split, manifest=args.manifest, ks=ks, batch_size=args.batch_size
    )
    wall = time.perf_counter() - t0
    report = {
        **metrics,
        "protocol": "shared/docs/protocol.md: queries = images whose style has >= 2 products; gallery = all "
        "but the query's own product; cosine; exact search",
        "embeddings": {"path": str(args.embeddings), **{k: v for k, v in es.meta.items() if k != "files"}},
        "wall_s": round(wall, 3),
        "hardware": {"machine": platform.machine(), "cpus": os.cpu_count(), "gpus_faiss": gpu_count(),
                     "python": platform.python_version()},
    }
    write_json(args.out, report)
    line = ", ".join(f"recall@{k}={metrics[f'recall@{k}']:.4f}" for k in ks)
    print(
        f"{line}, mAP@R={metrics['map@r']:.4f} ({metrics['n_queries']} queries, {metrics['n_gallery']} "
        f"images, {metrics['n_styles_single_product']} single-product styles not queried)"
    )
    print(f"wrote {args.out}")
    return 0


register(
    "evaluate", "recall@k and mAP@R of an embedding set by exact search (the evaluation protocol)",
    add_arguments, run,
)
