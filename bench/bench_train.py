"""Training-loop benchmark: images/s of our ``simclr`` and ``cvssl`` (``fit``) against a plain lightly loop.

Side by side in one process, one after the other, on the train split of the same synthetic catalog
(``write_synthetic_catalog(dir, SynthConfig(styles=150, seed=0, size=96))``), ResNet-18 at 64 px, for every
batch size (default 32, the benchmark's, and 128) and every precision (fp32, and the CPU default when it is
another: bf16-mixed on CPUs with AVX512-BF16/AMX):

- ``plain``: the loop of lightly's ``examples/pytorch/simclr.py``: a ``Dataset`` that opens each JPEG with PIL
  and applies ``SimCLRTransform(input_size=64)``, ``DataLoader(shuffle=True, drop_last=True, num_workers=2)``,
  torchvision ResNet-18 (``fc = Identity``) + ``SimCLRProjectionHead(512, 512, 128)``, ``NTXentLoss()``,
  ``SGD(lr=0.06)``, ``z0 = model(x0); z1 = model(x1)``, backward, step, zero_grad (its forward under bf16
  autocast in the bf16 rows).
- ``ours``: ``colorvariants.models.training.fit`` for ``simclr``, ``cvssl`` with ``part_source: crop`` (each
  part cut and run through the backbone) and with ``part_source: pool`` (parts pooled from one pass; the
  default); ``--compile`` adds ``model.compile`` rows. The figure is ``FitResult.images_per_second`` (the
  ``Throughput`` callback: training images per wall-clock second of each epoch, data loading included, first
  epoch excluded); a column takes Lightning's in-epoch validation pass out.
- ``model alone``: forward + backward + SGD step of ResNet-18 + head on 2 x batch views (random tensors, no
  data, no augmentation), channels_last: the ceiling any loader and augmentation could reach; once with
  torchvision's ResNet-18 (the plain loop's) and once with ours from ``create_backbone`` (the same network,
  whose convs over tiny maps run as one matmul over gathered patches: ``backbones.SmallMapConv2d``).

Every loop runs ``--rounds`` times (3), interleaved, since a shared host's speed drifts between minutes: the
table shows each loop's median round and the claims (issue 11, at the first batch size: our simclr >= 2x the
plain loop; our cvssl with default settings >= the plain loop's SimCLR) the median of the per-round ratios.
Prints a table and the claims, and replaces the "## Training loop" section of
BENCHMARKS.md (other sections are kept).

    python bench/bench_train.py                         # 150 styles, 3 epochs, batches 32 and 128
    python bench/bench_train.py --quick                 # a short check that every row runs; writes nothing
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightly
import pytorch_lightning as pl
import torch
import torchvision
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lightly.loss import NTXentLoss  # noqa: E402
from lightly.models.modules import SimCLRProjectionHead  # noqa: E402
from lightly.transforms import SimCLRTransform  # noqa: E402

from colorvariants.data.catalog import Catalog  # noqa: E402
from colorvariants.data.datamodule import DataConfig  # noqa: E402
from colorvariants.data.synth import SynthConfig, write_synthetic_catalog  # noqa: E402
from colorvariants.models.backbones import create_backbone  # noqa: E402
from colorvariants.models.training import FitConfig, TrainerConfig, _precision, fit  # noqa: E402

from _common import EpochExtras, cpu_model, replace_section, time_steps  # noqa: E402  (bench/ on sys.path)

SECTION = "## Training loop"
CLAIM = 2.0  # issue 11: our simclr must reach at least this multiple of the plain loop's images/s (batch 32)
# What "ours" trains, side by side: (row name, method, model settings). cvssl's default is part_source "pool".
OURS: list[tuple[str, str, dict[str, Any]]] = [
    ("simclr", "simclr", {}),
    ("cvssl, crop parts", "cvssl", {"part_source": "crop"}),
    ("cvssl, pool parts (default)", "cvssl", {"part_source": "pool"}),
]


# -- the plain lightly-style loop ---------------------------------------------------------------------------
class JpegDataset(Dataset):
    """Each item: open the JPEG with PIL, convert to RGB, apply the (two-view) transform; as lightly's examples."""

    def __init__(self, paths: list[Path], transform: Any) -> None:
        self.paths = paths
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        image = Image.open(self.paths[i]).convert("RGB")
        return self.transform(image), i


class SimCLR(nn.Module):
    """lightly's example model: backbone + SimCLRProjectionHead(512, 512, 128)."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.projection_head = SimCLRProjectionHead(512, 512, 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection_head(self.backbone(x).flatten(start_dim=1))


def plain_model(ours: bool = False) -> SimCLR:
    """lightly's example model; ``ours`` swaps in our ResNet-18 (the same network; tiny maps run as matmuls)."""
    if ours:
        return SimCLR(create_backbone("resnet18"))
    resnet = torchvision.models.resnet18(weights=None)
    resnet.fc = nn.Identity()  # type: ignore[assignment]
    return SimCLR(resnet)


def run_plain(paths: list[Path], epochs: int, batch_size: int, size: int, workers: int,
              bf16: bool = False) -> list[dict[str, float]]:
    """The loop of lightly's examples/pytorch/simclr.py (its forward under bf16 autocast with ``bf16``)."""
    torch.manual_seed(0)
    dataset = JpegDataset(paths, SimCLRTransform(input_size=size))
    dataloader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True, num_workers=workers)
    model = plain_model()
    criterion = NTXentLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.06)
    history = []
    for epoch in range(epochs):
        start = time.perf_counter()
        images = 0
        total_loss = 0.0
        for (x0, x1), _ in dataloader:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                z0 = model(x0)
                z1 = model(x1)
                loss = criterion(z0, z1)
            total_loss += float(loss.detach())
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            images += int(x0.shape[0])
        seconds = time.perf_counter() - start
        history.append({"epoch": epoch, "seconds": seconds, "images": images})
        print(f"  plain epoch {epoch}: {images} images in {seconds:.1f} s ({images / seconds:.1f} images/s), "
              f"loss {total_loss / max(1, len(dataloader)):.3f}", flush=True)
    return history


# -- the model alone -------------------------------------------------------------------------------------------
def time_model_step(batch_size: int, size: int, channels_last: bool, reps: int,
                    bf16: bool = False, ours: bool = False) -> list[float]:
    """Seconds per forward + backward + SGD step of ResNet-18 + head on 2 x batch_size views (one cat batch)."""
    torch.manual_seed(0)
    model = plain_model(ours)
    criterion = NTXentLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.06, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(2 * batch_size, 3, size, size)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            z0, z1 = model(x).chunk(2)
            loss = criterion(z0, z1)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    return time_steps(step, reps)


# -- report ----------------------------------------------------------------------------------------------------
def rate(history: list[dict[str, float]], minus: list[float] | None = None) -> tuple[int, float]:
    """(images, seconds) over the epochs after the first (all epochs when there is only one)."""
    idx = list(range(1, len(history))) if len(history) > 1 else [0]
    images = sum(int(history[i]["images"]) for i in idx)
    seconds = sum(history[i]["seconds"] - (minus[i] if minus else 0.0) for i in idx)
    return images, seconds


@dataclass
class Row:
    batch: int
    name: str
    precision: str
    images: int
    seconds: float
    seconds_train: float | None = None  # without the in-epoch validation pass (ours only)
    round: int = 0  # which interleaved round (``--rounds``) measured it
    spread: str = "-"  # min-max images/s over the rounds (set on the median row)

    @property
    def rate(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0

    def cells(self) -> str:
        train = f"{self.images / self.seconds_train:.1f}" if self.seconds_train else "-"
        return (f"| {self.batch} | {self.name} | {self.precision} | {self.images} | {self.seconds:.1f} | "
                f"{self.rate:.1f} | {train} | {self.spread} |")


def median_rows(rows: list[Row]) -> list[Row]:
    """One row per (batch, loop, precision): the round with the median images/s, with the min-max spread."""
    groups: dict[tuple[int, str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.batch, r.name, r.precision), []).append(r)
    out = []
    for group in groups.values():
        ranked = sorted(group, key=lambda r: r.rate)
        mid = ranked[(len(ranked) - 1) // 2]
        if len(group) > 1:
            mid.spread = f"{ranked[0].rate:.1f}-{ranked[-1].rate:.1f}"
        out.append(mid)
    return out


def run_ours(catalog: Catalog, tmp: Path, method: str, model: dict[str, Any], precision: str, batch: int,
             args: argparse.Namespace, compile_: bool) -> tuple[Row, float]:
    """One ``fit`` of ours; the row and fit()'s wall seconds."""
    cfg = FitConfig(
        method=method, model={**model, "compile": compile_},
        data=DataConfig(image_size=args.size, batch_size=batch, cache_dir=str(tmp / "cache")),
        trainer=TrainerConfig(max_epochs=args.epochs, progress_bar=False, threads=args.threads,
                              precision=precision),
    )
    extras = EpochExtras()
    start = time.perf_counter()
    tag = f"{method}_{model.get('part_source', '')}_{precision}_{batch}_{int(compile_)}"
    result = fit(cfg, catalog, tmp / "runs" / tag, callbacks=[extras])
    wall = time.perf_counter() - start
    images, seconds = rate(result.history)
    minus = list(extras.by_epoch)
    _, seconds_train = rate(result.history, minus if len(minus) == len(result.history) else None)
    print(f"  ours {tag}: {images / max(seconds, 1e-9):.1f} images/s (fit() wall {wall:.1f} s)", flush=True)
    return Row(batch, "", precision, images, seconds, seconds_train), wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per loop (the first is excluded)")
    parser.add_argument("--styles", type=int, default=150, help="styles of the synthetic catalog")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128],
                        help="batch sizes, each a full set of rows (the claims are read at the first)")
    parser.add_argument("--size", type=int, default=64, help="training image side in pixels")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the plain loop")
    parser.add_argument("--model-reps", type=int, default=8, help="timed model-only steps (after a warm-up)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="run every loop this many times, interleaved (the host's speed drifts): the table "
                             "shows each loop's median round, the claims the median of per-round ratios")
    parser.add_argument("--compile", action="store_true",
                        help="also rows with model.compile (torch.compile; compile time is in fit()'s wall)")
    parser.add_argument("--quick", action="store_true",
                        help="a short check that every row runs: 24 styles, 2 epochs, batch 16, 32 px, "
                             "1 model rep; figures meaningless, never written")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.quick:
        args.styles, args.epochs, args.batch_sizes, args.size, args.model_reps, args.rounds = 24, 2, [16], 32, 1, 1
        args.no_write = True
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    if args.threads:
        torch.set_num_threads(args.threads)
    default_precision = _precision(TrainerConfig(accelerator="cpu"))
    precisions = ["32-true"] + ([default_precision] if default_precision != "32-true" else [])

    load_before = os.getloadavg()
    t0 = time.perf_counter()
    rows: list[Row] = []
    walls: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        tmp_path = Path(tmp)
        start = time.perf_counter()
        manifest = write_synthetic_catalog(tmp_path / "synth", SynthConfig(styles=args.styles, seed=0, size=96),
                                           progress=False)
        synth_seconds = time.perf_counter() - start
        catalog = Catalog.load(manifest)
        train = catalog.frame.index[catalog.frame["split"] == "train"].tolist()
        paths = [catalog.path_of(i) for i in train]
        print(f"synthetic catalog: {len(catalog)} images, {len(paths)} in train ({synth_seconds:.1f} s)", flush=True)
        for round_ in range(args.rounds):
            for b in args.batch_sizes:
                for precision in precisions:
                    bf16 = precision.startswith("bf16")
                    plain_history = run_plain(paths, args.epochs, b, args.size, args.workers, bf16=bf16)
                    pi, ps = rate(plain_history)
                    rows.append(Row(b, f"plain lightly-style SimCLR loop (PIL + SimCLRTransform, {args.workers} "
                                       "workers)", precision, pi, ps, round=round_))
                    for name, method, model in OURS:
                        for compile_ in [False, True] if args.compile and precision == default_precision else [False]:
                            row, wall = run_ours(catalog, tmp_path, method, model, precision, b, args, compile_)
                            row.name = f"ours: {name}" + (", compiled" if compile_ else "")
                            row.round = round_
                            rows.append(row)
                            if round_ == 0:
                                walls.append(f"{row.name} {precision} batch {b}: {wall:.0f} s")
                    for ours, label in ((False, "torchvision ResNet-18"), (True, "our ResNet-18")):
                        step = time_model_step(b, args.size, True, args.model_reps, bf16=bf16, ours=ours)
                        rows.append(Row(b, f"model alone ({label}), channels_last: fwd+bwd+step, 2x{b} views",
                                        precision, b * len(step), sum(step), round=round_))
    load_after = os.getloadavg()
    total = time.perf_counter() - t0

    def find(batch: int, prefix: str, precision: str, round_: int) -> Row | None:
        return next((r for r in rows if r.batch == batch and r.name.startswith(prefix) and r.round == round_
                     and r.precision == precision and "compiled" not in r.name), None)

    def round_ratios(prefix: str) -> list[float]:
        """``prefix``'s images/s over the plain fp32 loop's, round by round (both ran minutes apart at most)."""
        out = []
        for r in range(args.rounds):
            plain, ours = find(b0, "plain", "32-true", r), find(b0, prefix, default_precision, r)
            if plain and ours and plain.rate > 0:
                out.append(ours.rate / plain.rate)
        return out

    b0 = args.batch_sizes[0]
    verdicts = []
    simclr_ratios, cvssl_ratios = round_ratios("ours: simclr"), round_ratios("ours: cvssl, pool")
    if simclr_ratios and cvssl_ratios:
        ratio, cv_ratio = statistics.median(simclr_ratios), statistics.median(cvssl_ratios)
        each = ", ".join(f"{x:.2f}" for x in simclr_ratios)
        cv_each = ", ".join(f"{x:.2f}" for x in cvssl_ratios)
        verdicts = [
            f"**Batch {b0}: our simclr ({default_precision}) / the plain loop (fp32): {ratio:.2f}x** (median of "
            f"the rounds' ratios {each}; claim: at least {CLAIM}x; " + ("met" if ratio >= CLAIM else "NOT met") + ").",
            f"**Our cvssl (default settings, {default_precision}) / the plain loop's SimCLR (fp32): "
            f"{cv_ratio:.2f}x** (rounds {cv_each}; claim: at least 1x; "
            + ("met" if cv_ratio >= 1.0 else "NOT met") + ").",
        ]
    measured = rows
    rows = median_rows(rows)
    table = [
        "| batch | loop | precision | images timed | seconds | images/s | images/s without validation | "
        "images/s min-max over rounds |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
        *(r.cells() for r in rows),
    ]
    words = [os.path.relpath(__file__, Path.cwd()), *(argv if argv is not None else sys.argv[1:])]
    command = "python " + " ".join(shlex.quote(a) for a in words)
    busy = max(load_before[0], load_after[0])
    body = "\n".join([
        SECTION,
        "",
        f"Measured {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {cpu_model()}, {os.cpu_count()} CPU cores, "
        f"no GPU; torch {torch.__version__} ({torch.get_num_threads()} threads), torchvision "
        f"{torchvision.__version__}, lightly {lightly.__version__}, pytorch-lightning {pl.__version__}, "
        f"Python {platform.python_version()}.",
        f"Command: `{command}` ({total:.0f} s in all). Default precision on this CPU: {default_precision}.",
        f"Data: synthetic catalog, {args.styles} styles, {len(catalog)} images of 96 px (seed 0), trained on its "
        f"train split ({len(paths)} images, drop_last); ResNet-18, {args.size} px, {args.epochs} epochs each; "
        "images/s = training images per wall-clock second of an epoch, data loading included, first epoch "
        "excluded. All loops ran one after the other in one process, "
        + (f"in {args.rounds} interleaved rounds (every loop once per round, {len(measured)} timed loops); each "
           "row is that loop's median round, and the claims take the median of the per-round ratios, since this "
           "host's speed drifts between minutes." if args.rounds > 1 else "once each."),
        ("Under load: " if busy > 1.0 else "Load: ")
        + f"1-min load average {load_before[0]:.1f} before, {load_after[0]:.1f} after, on {os.cpu_count()} cores"
        + ("; other jobs shared the cores, so absolute figures are noisy." if busy > 1.0 else "."),
        "",
        *table,
        "",
        *verdicts,
        "",
        "- fit() wall seconds (cache build, compile and validation included): " + "; ".join(walls) + ".",
    ])
    print()
    print(body)
    if not args.no_write:
        replace_section(args.out, SECTION, body)
        print(f"\nwrote the {SECTION!r} section of {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
