"""Flags and helpers several sub-commands share (manifest + root, config overrides)."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorvariants.data.catalog import Catalog


def add_catalog_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``--manifest``, ``--root`` and ``--allow-outside-root``."""
    parser.add_argument("--manifest", type=Path, required=required, help="catalog manifest (.csv or .parquet)")
    parser.add_argument("--root", type=Path, default=None, help="image root (default: the manifest's folder)")
    parser.add_argument("--allow-outside-root", action="store_true",
                        help="allow image paths that resolve outside --root (off: such rows are errors)")


def load_catalog(args: argparse.Namespace) -> Catalog:
    """The catalog named by the common flags, structurally checked."""
    return Catalog.load(args.manifest, args.root, allow_outside_root=args.allow_outside_root)
