"""``colorvariants validate``: check a manifest and its images, print every problem with its row and fix.

Exit status: 0 when there is no error (warnings allowed), 1 when there are errors, 2 when the manifest cannot
be read at all (not found, not CSV/Parquet).

    colorvariants validate --manifest data/manifest.csv --root data/images --json report.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from colorvariants.cli.registry import register


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``validate``."""
    parser.add_argument("--manifest", required=True, type=Path, help="manifest .csv or .parquet")
    parser.add_argument("--root", type=Path, default=None, help="image root (default: the manifest's folder)")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT",
                        help="also write the full report as JSON")
    parser.add_argument("--allow-outside-root", action="store_true",
                        help="accept image paths that resolve outside the root (e.g. ../shared/x.jpg)")
    parser.add_argument("--no-files", action="store_true", help="check the manifest only; do not open images")
    parser.add_argument("--min-side", type=int, default=32, help="warn about images smaller than this (px)")
    parser.add_argument("--max-pixels", type=int, default=None,
                        help="refuse larger images (decompression-bomb guard; default about 89M, as PIL)")
    parser.add_argument("--workers", type=int, default=2, help="decoding threads")
    parser.add_argument("--max-per-code", type=int, default=20,
                        help="problems of one kind shown in the text report")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Load the manifest without failing on its problems, validate, print, exit 1 on errors."""
    from colorvariants.data.catalog import Catalog, read_manifest_frame
    from colorvariants.data.images import DEFAULT_MAX_PIXELS
    from colorvariants.data.validate import validate_catalog
    from colorvariants.io import write_json

    manifest: Path = args.manifest
    frame = read_manifest_frame(manifest)
    root = args.root if args.root is not None else manifest.parent
    catalog = Catalog.from_frame(
        frame, root, source=manifest, allow_outside_root=args.allow_outside_root, check=False
    )
    report = validate_catalog(
        catalog,
        check_files=not args.no_files,
        min_side=args.min_side,
        max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
        workers=args.workers,
        progress=not args.no_progress,
    )
    print(report.format(max_per_code=args.max_per_code))
    if args.json is not None:
        write_json(args.json, report.to_dict())
        print(f"Full report: {args.json}")
    return 0 if report.ok else 1


register("validate", "check a manifest and its images: every problem with its row, file and fix",
         add_arguments, run)
