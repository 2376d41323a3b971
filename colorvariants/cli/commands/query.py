"""``colorvariants query``: the nearest colour variants of new images in an index."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorvariants.cli.registry import register
from colorvariants.cli.rerank_arg import rerank_spec


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", type=Path, required=True, help="index folder from `colorvariants index build`")
    p.add_argument("--ckpt", type=Path, required=True, help="the model.pt whose embeddings the index holds")
    p.add_argument("--image", type=Path, action="append", required=True, help="query image (repeatable)")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--out", type=Path, help="also write the results (.csv, .parquet or .json)")
    p.add_argument("--rerank", default=None, type=rerank_spec,
                   help="re-rank the candidates on the catalog's kNN graph: csls, kreciprocal, dba, qe (needs "
                        "--embeddings)")
    p.add_argument("--embeddings", type=Path, default=None, help="the embedding set the index was built from")


def run(args: argparse.Namespace) -> int:
    from colorvariants.io import atomic_path
    from colorvariants.retrieval.query import VariantFinder

    table = VariantFinder(args.ckpt, args.index, rerank=args.rerank, embeddings=args.embeddings).query(
        args.image, k=args.k)
    cols = [c for c in ("rank", "similarity", "product_id", "style_id", "image_path") if c in table.columns]
    for query, rows in table.groupby("query", sort=False):
        print(f"{query}:")
        print(rows[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.out:
        with atomic_path(args.out, suffix=args.out.suffix) as tmp:
            if args.out.suffix == ".parquet":
                table.to_parquet(tmp, index=False)
            elif args.out.suffix == ".json":
                table.to_json(tmp, orient="records", indent=2)
            else:
                table.to_csv(tmp, index=False)
    return 0


register("query", "find the nearest colour variants of new images in an index", add_arguments, run)
