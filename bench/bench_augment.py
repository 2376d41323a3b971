"""Augmentation benchmark: images/s of our batched tensor views against lightly's per-image PIL transforms.

Both sides start from decoded 64 px images (uint8 tensors for ours, PIL images for lightly: decoding is the
loader's job, see bench_loader.py) and produce the two normalised views of SimCLR per image:

- ``ours``: ``SimCLRViews`` (and, for reference, ``MoCoV2Views``, ``ColorVariantViews`` with and without
  masks) on uint8 batches of 256, in this process, with the views' default ``cpu_threads=1`` and, for
  comparison, with torch's default thread count (``cpu_threads=None``);
- ``lightly``: ``SimCLRTransform(input_size=64)`` called on each PIL image and the views stacked into a batch,
  the way lightly's examples use it inside a ``Dataset`` + ``DataLoader`` (here in a single process).

Rounds alternate between the methods, so a machine shared with other jobs slows all alike; the table reports
the median and best round, and the speed-up of the medians. A ResNet-18 forward + backward over the same views
(with 1 thread and with torch's default) gives the share of a training step that augmentation takes.

Prints a table and replaces the "## Augmentations" section of BENCHMARKS.md (other sections are kept).

    python bench/bench_augment.py               # batch 256, 64 px, 7 rounds, writes BENCHMARKS.md
    python bench/bench_augment.py --rounds 3 --no-write --no-model
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import lightly
import torch
import torch.nn.functional as F
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lightly.transforms import SimCLRTransform  # noqa: E402

from colorvariants.data.augment import (  # noqa: E402
    ColorVariantViewConfig,
    ColorVariantViews,
    MoCoV2Views,
    SimCLRViewConfig,
    SimCLRViews,
)
from colorvariants.models.backbones import create_backbone  # noqa: E402

from _common import cpu_model, replace_section  # noqa: E402  (bench/ is on sys.path)

SECTION = "## Augmentations"


@dataclass
class Timing:
    """Per-round seconds of one method on one batch."""

    name: str
    images: int
    seconds: list[float] = field(default_factory=list)

    @property
    def median_rate(self) -> float:
        return self.images / statistics.median(self.seconds)

    @property
    def best_rate(self) -> float:
        return self.images / min(self.seconds)


def make_images(n: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` uint8 photos stand-ins ``(n, 3, size, size)``: smooth colour fields plus noise; and box masks."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 6, 6, generator=g)
    x = F.interpolate(coarse, size=size, mode="bicubic", align_corners=False)
    x = (x + 0.04 * torch.randn(n, 3, size, size, generator=g)).clamp(0, 1)
    masks = torch.zeros(n, 1, size, size, dtype=torch.uint8)
    masks[..., size // 6: size - size // 6, size // 5: size - size // 5] = 255
    return (x * 255).round().to(torch.uint8), masks


def lightly_batch(
    transform: SimCLRTransform, pil_images: list[Image.Image]
) -> tuple[torch.Tensor, torch.Tensor]:
    """lightly's way: the transform per PIL image, then the default collate (stack) of each view."""
    views = [transform(im) for im in pil_images]
    return torch.stack([v[0] for v in views]), torch.stack([v[1] for v in views])


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start






def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per method (after one warm-up)")
    parser.add_argument("--no-model", action="store_true", help="skip the ResNet-18 training-step reference")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    images, masks = make_images(args.batch_size, args.size)
    pil_images = [Image.fromarray(im.permute(1, 2, 0).numpy()) for im in images]
    b = args.batch_size
    lightly_transform = SimCLRTransform(input_size=args.size)
    g = torch.Generator().manual_seed(0)
    simclr, mocov2 = SimCLRViews(SimCLRViewConfig()), MoCoV2Views()
    cvssl = ColorVariantViews(ColorVariantViewConfig())
    simclr_all_threads = SimCLRViews(SimCLRViewConfig(cpu_threads=None))
    threads = torch.get_num_threads()
    methods: list[tuple[Timing, Callable[[], object]]] = [
        (Timing("ours: SimCLRViews (batched tensors, cpu_threads=1, the default)", b),
         lambda: simclr(images, generator=g)),
        (Timing("lightly: SimCLRTransform per PIL image + stack", b), lambda: lightly_batch(lightly_transform,
                                                                                         pil_images)),
        (Timing(f"ours: SimCLRViews with torch's {threads} threads (cpu_threads=None)", b),
         lambda: simclr_all_threads(images, generator=g)),
        (Timing("ours: MoCoV2Views", b), lambda: mocov2(images, generator=g)),
        (Timing("ours: ColorVariantViews", b), lambda: cvssl(images, generator=g)),
        (Timing("ours: ColorVariantViews + garment recolour (masks)", b),
         lambda: cvssl(images, masks=masks, generator=g)),
    ]
    load_before = os.getloadavg()
    for _, fn in methods:  # warm-up: allocator, thread pool, lazy imports
        fn()
    for _ in range(args.rounds):  # interleaved, so background load hits every method alike
        for timing, fn in methods:
            timing.seconds.append(timed(fn))

    steps: list[Timing] = []
    if not args.no_model:
        model = create_backbone("resnet18").train().to(memory_format=torch.channels_last)
        x0, x1 = simclr(images, generator=g)
        views = torch.cat([x0, x1]).contiguous(memory_format=torch.channels_last)

        def train_step() -> None:
            model.zero_grad(set_to_none=True)
            model(views).pow(2).mean().backward()

        train_step()
        default_threads = torch.get_num_threads()
        by_threads = {
            n: Timing(f"reference: ResNet-18 forward + backward on the {2 * b} views, {n} thread(s)", b)
            for n in sorted({1, default_threads})
        }
        for _ in range(max(2, args.rounds // 2)):  # interleaved too
            for n, timing in by_threads.items():
                torch.set_num_threads(n)
                timing.seconds.append(timed(train_step))
        torch.set_num_threads(default_threads)
        steps = list(by_threads.values())
    load_after = os.getloadavg()

    ours, theirs = methods[0][0], methods[1][0]
    speedup = ours.median_rate / theirs.median_rate
    table = [
        "| method | images/s (median) | images/s (best) | ms per batch (median) |",
        "|---|---:|---:|---:|",
    ]
    rows = [t for t, _ in methods] + steps
    for t in rows:
        table.append(f"| {t.name} | {t.median_rate:,.0f} | {t.best_rate:,.0f} | "
                     f"{1000 * statistics.median(t.seconds):,.0f} |")
    words = [os.path.relpath(__file__, REPO), *(argv if argv is not None else sys.argv[1:])]
    command = "python " + " ".join(shlex.quote(a) for a in words)
    share = ""
    if steps:
        aug = statistics.median(ours.seconds)
        lig = statistics.median(theirs.seconds)
        fastest = min(steps, key=lambda t: statistics.median(t.seconds))
        tr = statistics.median(fastest.seconds)
        share = (f"Per training step (augment + ResNet-18 forward/backward with its faster thread count, "
                 f"no optimiser): ours {aug + tr:.2f} s, lightly {lig + tr:.2f} s, so augmentation alone "
                 f"makes a step {(lig + tr) / (aug + tr):.2f}x faster; at 64 px on CPU the model dominates "
                 "the step.")
    body = "\n".join([
        SECTION,
        "",
        f"Two SimCLR views per image from decoded {args.size} px images, batch {b}; one image = both views. "
        f"Median and best of {args.rounds} interleaved rounds after a warm-up.",
        "",
        *table,
        "",
        f"**Speed-up of our batched SimCLR views over lightly's PIL pipeline: {speedup:.1f}x** (medians).",
        *(["", share] if share else []),
        "",
        f"- Machine: {cpu_model()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), lightly {lightly.__version__}, "
        f"Python {platform.python_version()}.",
        f"- Shared: other engineers were running jobs on the same 2 cores at the same time (load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after), so absolute figures are noisy; the rounds "
        "are interleaved so the ratio is fair.",
        f"- Command: `{command}`; date: {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}.",
        "- Ours draws every parameter per image (crop box, flip, jitter factors and order, grayscale, "
        "blur sigma) on the whole batch; lightly rounds to uint8 after each PIL op, ours stays float.",
        "- Threads: on oversubscribed cores every OpenMP parallel region waits for a descheduled thread, so "
        "the views default to 1 CPU thread (`cpu_threads=1`); compare the rows with 1 and 2 threads.",
    ])
    print(body)
    if not args.no_write:
        replace_section(args.out, SECTION, body)
        print(f"\nwrote the {SECTION!r} section of {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
