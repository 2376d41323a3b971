"""``colorvariants index build|add``: build a FAISS index over an embedding set, or append new products."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from colorvariants.cli.registry import register
from colorvariants.retrieval.choices import INDEX_CHOICES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="index_action", metavar="ACTION")
    actions.required = True
    build = actions.add_parser("build", help="build an index from embeddings", description=_build.__doc__)
    build.add_argument("--embeddings", required=True,
                       help="embedding-set folder (embeddings.npy, ids.parquet, meta.json)")
    build.add_argument("--out", required=True,
                       help="index folder to write (index.faiss, ids.parquet, meta.json)")
    build.add_argument("--kind", choices=INDEX_CHOICES, default="auto",
                       help="index kind (default: auto, from collection size and memory budget)")
    build.add_argument("--memory-budget", default=None,
                       help="memory the index may use, e.g. 4GB (default: half of the free RAM)")
    build.add_argument("--target-recall", type=float, default=0.95,
                       help="recall@10 vs exact search that nprobe/efSearch are tuned for (default 0.95)")
    build.add_argument("--seed", type=int, default=0, help="seed of the training and fidelity samples")
    add = actions.add_parser("add", help="append new products to an index", description=_add.__doc__)
    add.add_argument("--index", required=True, help="index folder written by `index build`")
    add.add_argument("--embeddings", required=True, help="embedding set of the new products (same model)")


def _build(args: argparse.Namespace) -> int:
    """Build an index, tune it to the target recall, save it; print kind, params, build time, fidelity."""
    from colorvariants.outputs import claim
    from colorvariants.retrieval.index import build_index
    from colorvariants.retrieval.store import EmbeddingSet

    with claim(args.out, "index"):
        es = EmbeddingSet.load(args.embeddings)
        bundle = build_index(
            es, kind=args.kind, memory_budget=args.memory_budget, target_recall=args.target_recall, seed=args.seed
        )
        bundle.save(args.out)
    meta = bundle.meta
    fid = meta["fidelity"]
    params = ", ".join(f"{k}={v}" for k, v in {**meta["params"], **meta["search_params"]}.items()) or "exact"
    print(f"kind: {meta['kind']} ({meta['reason']})")
    print(f"params: {params}")
    mb = meta["memory_bytes_estimate"] / 1e6
    print(f"vectors: {bundle.count} x {bundle.dim}, estimated memory {mb:.1f} MB")
    print(f"build: {meta['build_seconds']:.2f}s, tuning: {meta['tune_seconds']:.2f}s, gpu: {meta['gpu']}")
    status = "reached" if fid["reached"] else "NOT reached"
    k = fid["k"]
    recall = fid[f"recall@{k}"]
    print(
        f"fidelity: recall@{k} vs exact search = {recall:.4f} on {fid['n_queries']} "
        f"sample queries (target {fid['target']:.3g} {status})"
    )
    print(f"wrote {args.out}")
    return 0


def _add(args: argparse.Namespace) -> int:
    """Append the new embeddings' vectors and ids to the index and rewrite its files atomically."""
    from colorvariants.outputs import claim
    from colorvariants.retrieval.index import add, load_index
    from colorvariants.retrieval.store import EmbeddingSet

    with claim(args.index, "index", flag="--index"):
        new = EmbeddingSet.load(args.embeddings)
        bundle = load_index(args.index, expected_dim=new.dim)
        before = bundle.count
        add(bundle, new)
        bundle.save(args.index)
    print(f"added {new.count} vectors to {args.index}: {before} -> {bundle.count} ({bundle.kind})")
    return 0


ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {"build": _build, "add": _add}


def run(args: argparse.Namespace) -> int:
    return ACTIONS[args.index_action](args)


register(
    "index", "build a FAISS index over embeddings (index build), or add new products (index add)",
    add_arguments, run,
)
