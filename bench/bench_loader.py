"""Loader benchmark: images/s of a typical per-image PIL loader against the decoded-image cache.

Writes ~1000 random 256 px JPEGs (noise plus shapes, so they compress like photos, not like flat colour) to a
temporary folder, then measures:

- ``typical``: a torch ``Dataset`` that opens, decodes, resizes to 64 px and converts each image to a tensor,
  through a ``DataLoader`` (batch 128), with 0 and with 2 worker processes;
- ``cache build``: ``ImageCache.build`` (decode once, letterbox, write the memory map), 2 threads;
- ``cache``: ``CatalogDataModule.train_dataloader()`` over the built cache (batch 128, no workers).

Prints a table and replaces the "## Loader" section of BENCHMARKS.md (other sections are kept).

    python bench/bench_loader.py            # n=1000, writes BENCHMARKS.md
    python bench/bench_loader.py --n 200 --no-write
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import PIL
import torch
from PIL import Image, ImageDraw
from torch.utils.data import DataLoader, Dataset

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from colorvariants.data.cache import ImageCache  # noqa: E402
from colorvariants.data.catalog import Catalog  # noqa: E402
from colorvariants.data.datamodule import CatalogDataModule, DataConfig  # noqa: E402

from _common import cpu_model, replace_section  # noqa: E402  (bench/ is on sys.path)

SECTION = "## Loader"


def write_jpegs(root: Path, n: int, size: int, seed: int = 0) -> Catalog:
    """``n`` noisy JPEGs with a few shapes each, in 100 styles x products, all in the train split."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        base = rng.integers(0, 256, 3)
        noise = rng.normal(0, 18, (size, size, 3))
        arr = np.clip(base + noise, 0, 255).astype(np.uint8)
        im = Image.fromarray(arr)
        d = ImageDraw.Draw(im)
        for _ in range(4):
            x0, y0 = rng.integers(0, size - 40, 2)
            w, h = rng.integers(20, size // 2, 2)
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            (d.ellipse if rng.random() < 0.5 else d.rectangle)((x0, y0, x0 + w, y0 + h), fill=colour)
        rel = f"images/{i:05d}.jpg"
        im.save(root / rel, quality=90)
        rows.append({"image_path": rel, "product_id": f"p{i // 2}", "style_id": f"s{i // 10}",
                     "split": "train"})
    frame = pd.DataFrame(rows)
    frame.to_csv(root / "manifest.csv", index=False)
    return Catalog.load(root / "manifest.csv", root)


class TypicalDataset(Dataset[tuple[torch.Tensor, int]]):
    """What most training scripts do: open, decode, resize and convert every image, every epoch."""

    def __init__(self, paths: list[Path], size: int) -> None:
        self.paths = paths
        self.size = size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        with Image.open(self.paths[i]) as im:
            rgb = im.convert("RGB").resize((self.size, self.size), Image.Resampling.BILINEAR)
        return torch.from_numpy(np.array(rgb)).permute(2, 0, 1).contiguous(), i


@dataclass
class Result:
    name: str
    seconds: float
    images: int

    @property
    def rate(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("inf")


def time_epochs(loader: Iterable[Any], epochs: int, count: Callable[[Any], int]) -> tuple[float, int]:
    """Best epoch time over ``epochs`` passes of one loader (the first pays worker start-up, page faults)."""
    best, n = float("inf"), 0
    for epoch in range(epochs):
        sampler = getattr(loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)  # as Lightning does
        start = time.perf_counter()
        n = 0
        for batch in loader:
            n += count(batch)
        best = min(best, time.perf_counter() - start)
    return best, n






def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="images to generate")
    parser.add_argument("--source-size", type=int, default=256, help="side of the generated JPEGs")
    parser.add_argument("--image-size", type=int, default=64, help="training image side")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3, help="timed passes per loader (best is reported)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers / cache decoding threads")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)  # as a DataLoader worker would; keeps the comparison about loading
    load_before = os.getloadavg()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="cv-bench-loader-") as tmp:
        tmp_path = Path(tmp)
        start = time.perf_counter()
        catalog = write_jpegs(tmp_path / "catalog", args.n, args.source_size)
        gen_seconds = time.perf_counter() - start
        paths = catalog.paths

        for workers in (0, args.workers):
            loader = DataLoader(
                TypicalDataset(paths, args.image_size), batch_size=args.batch_size, shuffle=True,
                num_workers=workers, persistent_workers=workers > 0,
            )
            secs, n = time_epochs(loader, args.epochs, lambda b: len(b[1]))
            del loader
            results.append(Result(f"typical PIL loader, {workers} workers", secs, n))

        start = time.perf_counter()
        cache = ImageCache.build(
            catalog, args.image_size, tmp_path / "cache", workers=args.workers, progress=False
        )
        build = Result(f"cache build ({args.workers} threads, once)", time.perf_counter() - start, len(cache))
        results.append(build)

        dm = CatalogDataModule(catalog, DataConfig(
            image_size=args.image_size, batch_size=args.batch_size, cache_dir=str(tmp_path / "cache"),
            num_workers=0, max_val_images=1,
        ))
        dm.setup("fit")
        # Ten times the epochs: one takes milliseconds, so a single pass is mostly timer noise.
        secs, n = time_epochs(dm.train_dataloader(), 10 * args.epochs, lambda b: len(b["index"]))
        results.append(Result("cache loader (CatalogDataModule), 0 workers", secs, n))
    load_after = os.getloadavg()

    typical_best = max(r.rate for r in results if r.name.startswith("typical"))
    cached = results[-1].rate
    table = ["| loader | images | seconds | images/s |", "|---|---:|---:|---:|"]
    for r in results:
        table.append(f"| {r.name} | {r.images} | {r.seconds:.3f} | {r.rate:,.0f} |")
    cores = os.cpu_count()
    loaded = max(load_before[0], load_after[0]) > 0.5 * (cores or 1)
    words = [os.path.relpath(__file__, REPO), *(argv if argv is not None else sys.argv[1:])]
    command = "python " + " ".join(shlex.quote(a) for a in words)
    body = "\n".join([
        SECTION,
        "",
        f"Measured {dt.date.today().isoformat()} on {cpu_model()}, {cores} CPU cores, no GPU; Python "
        f"{platform.python_version()}, torch {torch.__version__}, Pillow {PIL.__version__}.",
        f"Command: `{command}`.",
        f"Data: {args.n} random JPEGs of {args.source_size} px (quality 90, written in {gen_seconds:.1f} s, "
        f"so read from the page cache), to {args.image_size} px, batch {args.batch_size} (drop_last for the "
        f"cache loader); best of {args.epochs} epochs per typical loader, of {10 * args.epochs} for the "
        "cache.",
        ("Under load: the machine was shared with other engineers' jobs "
         if loaded else "Machine mostly idle ")
        + f"(1-min load average {load_before[0]:.1f} before, {load_after[0]:.1f} after, on {cores} cores); "
        "absolute figures are noisy, the ratio is the point.",
        "",
        *table,
        "",
        f"The cache loader is {cached / typical_best:,.0f}x the best typical loader; the one-off build costs "
        f"about {build.seconds / (args.n / typical_best):.1f} typical epochs.",
    ])
    print(body)
    if not args.no_write:
        replace_section(args.out, SECTION, body)
        print(f"\nwrote the {SECTION!r} section of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
