"""``colorvariants synth``: write the built-in synthetic catalog (images, foreground masks, ``manifest.csv``).

    colorvariants synth --out runs/synth --styles 300 --seed 0 --size 128
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from colorvariants.cli.registry import register

HELP = "Draw a synthetic fashion catalog whose colour variants differ only in colour (the demo's data)."


def parse_range(text: str) -> tuple[int, int]:
    """``"2-5"`` -> (2, 5); ``"3"`` -> (3, 3). An argparse ``type`` (bad input becomes a usage error)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a range: write A-B (e.g. 2-5) or one number")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) is not None else low
    if low > high:
        raise argparse.ArgumentTypeError(f"{text!r}: the low end {low} is above the high end {high}")
    return low, high


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="folder for images/, masks/ and manifest.csv")
    parser.add_argument("--styles", type=int, default=300, help="number of designs (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="master seed: one seed, the same files")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--no-masks", dest="masks", action="store_false", help="skip the foreground masks")
    parser.add_argument("--images-per-product", type=parse_range, default=(1, 2), metavar="A-B",
                        help="photos per product, each with its own pose/background/lighting (default 1-2)")
    parser.add_argument("--variants", type=parse_range, default=(2, 5), metavar="A-B",
                        help="colour variants (products) per style (default 2-5)")
    parser.add_argument("--siblings", type=parse_range, default=(2, 3), metavar="A-B",
                        help="styles per sibling cluster; siblings differ in one design detail (default 2-3)")
    parser.add_argument("--no-nuisance", dest="nuisance", action="store_false",
                        help="canonical pose on plain white, no lighting or noise (for inspection)")
    parser.add_argument("--workers", type=int, default=2, help="drawing processes (default 2; 1 = inline)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from colorvariants.data.catalog import Catalog
    from colorvariants.data.synth import SynthConfig, write_synthetic_catalog

    config = SynthConfig(
        styles=args.styles,
        seed=args.seed,
        size=args.size,
        masks=args.masks,
        images_per_product=args.images_per_product,
        variants=args.variants,
        siblings=args.siblings,
        nuisance=args.nuisance,
    )
    workers = max(1, args.workers)
    manifest = write_synthetic_catalog(args.out, config, workers=workers, progress=not args.quiet)
    frame = Catalog.load(manifest).frame
    counts = frame["split"].value_counts().sort_index()
    splits = ", ".join(f"{name} {count}" for name, count in counts.items())
    print(
        f"wrote {len(frame)} images of {frame['product_id'].nunique()} products in "
        f"{frame['style_id'].nunique()} styles to {manifest} (images per split: {splits})"
    )
    return 0


register("synth", HELP, add_arguments, run)
