"""Training callbacks: throughput measurement (images/s, first epoch excluded) and the run summary."""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl


class Throughput(pl.Callback):
    """Training images per wall-clock second, data loading included, per epoch.

    ``images_per_second`` excludes the first epoch (warm-up: caches, allocator, oneDNN kernel selection) when
    there is more than one; a single-epoch run reports that epoch.
    """

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []
        self._start = 0.0
        self._images = 0
        self.train_seconds = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()
        self._images = 0

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        self._images += int(batch["image"].shape[0]) * trainer.world_size

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seconds = time.perf_counter() - self._start
        self.train_seconds += seconds
        self.epochs.append({"epoch": trainer.current_epoch, "seconds": seconds, "images": self._images})

    @property
    def images_per_second(self) -> float:
        rows = self.epochs[1:] if len(self.epochs) > 1 else self.epochs
        seconds = sum(r["seconds"] for r in rows)
        return sum(r["images"] for r in rows) / seconds if seconds > 0 else 0.0

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": list(self.epochs), "train_seconds": self.train_seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epochs = list(state_dict.get("epochs", []))
        self.train_seconds = float(state_dict.get("train_seconds", 0.0))
