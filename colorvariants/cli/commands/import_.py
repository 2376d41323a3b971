"""``colorvariants import <dataset>``: write a manifest from a public dataset's annotation files."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorvariants.cli.registry import register


def add_arguments(p: argparse.ArgumentParser) -> None:
    from colorvariants.data.importers import IMPORTERS  # light: pandas only, no image or model code

    sub = p.add_subparsers(dest="dataset", metavar="DATASET")
    sub.required = True
    for name in sorted(IMPORTERS):
        importer = IMPORTERS[name]
        q = sub.add_parser(name, help=importer.help, description=importer.help)
        q.add_argument("--root", type=Path, required=True, help="the dataset's folder as released")
        q.add_argument("--out", type=Path, required=True, help="manifest to write (.csv or .parquet)")


def run(args: argparse.Namespace) -> int:
    from colorvariants.data.importers import IMPORTERS

    result = IMPORTERS[args.dataset].run(args.root, args.out)
    splits = ", ".join(f"{k} {v}" for k, v in result.splits.items())
    print(f"wrote {result.rows} images ({splits}) to {result.manifest}")
    print(f"image root: {result.image_root}  (pass --root {result.image_root} to later commands)")
    for note in result.notes:
        print(f"note: {note}")
    return 0


register("import", "write a manifest from a public dataset (e.g. import deepfashion-inshop)", add_arguments, run)
