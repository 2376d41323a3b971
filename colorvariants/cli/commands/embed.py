"""``colorvariants embed``: embed a catalog with a trained model into .npy + Parquet ids (resumable)."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorvariants.cli.common import add_catalog_arguments, load_catalog
from colorvariants.cli.registry import register
from colorvariants.data.choices import CROP_MODES, ON_ERROR_POLICIES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ckpt", type=Path, required=True, help="RUN_DIR/model.pt (or a .ckpt of a fit run)")
    add_catalog_arguments(p)
    p.add_argument("--out", type=Path, required=True, help="output folder: embeddings.npy, ids.parquet, meta.json")
    p.add_argument("--split", help="embed only this split (e.g. test)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--shard-size", type=int, default=8192, help="rows per resumable shard")
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--devices", default="1", help="GPUs to use (Lightning predict with DDP when > 1)")
    p.add_argument("--strategy", default="auto")
    p.add_argument("--cache-dir")
    p.add_argument("--on-error", choices=ON_ERROR_POLICIES, default="raise",
                   help="skip: leave unreadable images out and record them in meta.json")
    p.add_argument("--crop", choices=CROP_MODES, default="none")
    p.add_argument("--overwrite", action="store_true",
                   help="start clean: remove the embedding set or shards --out holds (a rerun with another model, "
                        "catalog or settings is refused without it)")


def run(args: argparse.Namespace) -> int:
    from colorvariants.retrieval.embed import EmbedConfig, embed_catalog

    catalog = load_catalog(args)
    if args.split:
        catalog = catalog.split(args.split)
    devices = int(args.devices) if str(args.devices).isdigit() else args.devices
    cfg = EmbedConfig(batch_size=args.batch_size, shard_size=args.shard_size, accelerator=args.accelerator,
                      devices=devices, strategy=args.strategy, cache_dir=args.cache_dir, on_error=args.on_error,
                      crop=args.crop, overwrite=args.overwrite)
    emb = embed_catalog(args.ckpt, catalog, args.out, cfg)
    if emb is not None:
        print(f"wrote {emb.vectors.shape[0]} x {emb.vectors.shape[1]} embeddings to {args.out}")
    return 0


register("embed", "embed a catalog with a trained model (sharded, resumable)", add_arguments, run)
