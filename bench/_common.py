"""Helpers the bench scripts share: the CPU's name, a BENCHMARKS.md section, validation time, step timing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytorch_lightning as pl
import torch

from colorvariants.io import write_text
from colorvariants.report.provenance import cpu_name

cpu_model = cpu_name  # the one CPU-name reader (report.provenance), under the bench scripts' name


def replace_section(path: Path, section: str, body: str) -> None:
    """Replace (or append) the ``section`` heading's block of BENCHMARKS.md, keeping every other section."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == section), None)
    if start is None:
        new = text.rstrip("\n") + "\n\n" + body.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        rest = [""] + lines[end:] if end < len(lines) else []
        new = "\n".join(lines[:start] + body.rstrip("\n").splitlines() + rest).rstrip("\n") + "\n"
    write_text(path, new)


class EpochExtras(pl.Callback):
    """Seconds spent on validation inside each training epoch (Lightning validates before the epoch ends)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.by_epoch: list[float] = []
        self._t = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.seconds = 0.0

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._t = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.seconds += time.perf_counter() - self._t

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.by_epoch.append(self.seconds)


def time_steps(step: Callable[[], object], reps: int, device: torch.device | str = "cpu") -> list[float]:
    """Seconds of each of ``reps`` calls of ``step`` after one untimed warm-up (kernel selection, allocator).

    On CUDA the device is synchronised before each clock read, as its work is asynchronous.
    """
    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda *a: None)
    times = []
    for rep in range(reps + 1):
        sync(dev)
        start = time.perf_counter()
        step()
        sync(dev)
        if rep:
            times.append(time.perf_counter() - start)
    return times
