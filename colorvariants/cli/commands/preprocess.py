"""``colorvariants preprocess``: crop to the product and/or remove the background once, writing a new catalog."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorvariants.cli.common import add_catalog_arguments, load_catalog
from colorvariants.cli.registry import register
from colorvariants.data.boxes import CROP_MARGIN
from colorvariants.data.choices import CROP_MODES, IMAGE_FORMAT_NAMES, ON_ERROR_POLICIES
from colorvariants.errors import ColorVariantsError


def _rgb(text: str) -> tuple[int, int, int]:
    parts = text.replace(" ", "").split(",")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not R,G,B (e.g. 255,255,255)") from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"{text!r} is not R,G,B (e.g. 255,255,255)")
    return values


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_catalog_arguments(p)
    p.add_argument("--out", type=Path, required=True,
                   help="output folder: images/, masks/, manifest.csv (rerun the same command to resume)")
    p.add_argument("--crop", choices=CROP_MODES, default="none",
                   help="bbox: the manifest's bbox columns; mask: the foreground mask's box (default none)")
    p.add_argument("--margin", type=float, default=CROP_MARGIN,
                   help=f"share of the box added on each side (default {CROP_MARGIN})")
    p.add_argument("--remove-background", metavar="BACKEND", default=None,
                   help="paint the background --background-fill with this backend: floodfill, grabcut (offline) "
                        "or rembg (pip install 'colorvariants[rembg]', weights in $U2NET_HOME)")
    p.add_argument("--rembg-model", default=None, help="rembg model, e.g. u2net (default), isnet-general-use")
    p.add_argument("--background-fill", type=_rgb, default=(255, 255, 255), metavar="R,G,B",
                   help="colour of removed background (default 255,255,255)")
    p.add_argument("--format", dest="image_format", choices=IMAGE_FORMAT_NAMES, default="auto",
                   help="output image format (auto: JPEG stays JPEG, others PNG)")
    p.add_argument("--workers", type=int, default=2, help="processes (default 2; 1 = in this process)")
    p.add_argument("--on-error", choices=ON_ERROR_POLICIES, default="raise",
                   help="skip: leave unreadable images out and list them in OUT/skipped.csv")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from colorvariants.data.preprocess import preprocess_catalog

    options: dict[str, object] = {}
    if args.rembg_model is not None:
        if args.remove_background != "rembg":
            raise ColorVariantsError("--rembg-model applies only with --remove-background rembg.")
        options["model"] = args.rembg_model
    from colorvariants.outputs import claim

    catalog = load_catalog(args)
    with claim(args.out, "preprocess"):
        manifest = preprocess_catalog(
            catalog, args.out, crop=args.crop, remove_background=args.remove_background,
            background_fill=args.background_fill, margin=args.margin, workers=args.workers,
            on_error=args.on_error, image_format=args.image_format, remover_options=options,
            progress=not args.no_progress,
        )
    print(f"wrote {manifest} (image root {manifest.parent})")
    return 0


register("preprocess", "crop to the product / remove the background once, into a new catalog (resumable)",
         add_arguments, run)
