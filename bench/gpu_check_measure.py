"""What the GPU check (gpu_check.py) measures with: GPU utilisation, peak memory, each step's loss, the rate
between steps, and a method's views frozen for the model-only ceiling. torch is imported where it is used."""

from __future__ import annotations

import gc
import math
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


# -- GPU utilisation -----------------------------------------------------------------------------------------
def _nvidia_smi_util() -> float:
    query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", "0"]
    out = subprocess.run(query, capture_output=True, text=True, timeout=10, check=True).stdout
    return float(out.strip().splitlines()[0])


def _utilisation_reader() -> Callable[[], float] | None:
    """torch.cuda.utilization (NVML) when it answers, else nvidia-smi, else None (no GPU)."""
    import torch

    if not torch.cuda.is_available():
        return None
    for reader in (lambda: float(torch.cuda.utilization()), _nvidia_smi_util):
        try:
            reader()
            return reader
        except Exception:
            continue
    return None


class UtilisationSampler:
    """GPU utilisation (%) sampled every ``period`` seconds in a thread while the ``with`` block runs."""

    def __init__(self, period: float = 0.2) -> None:
        self.period = period
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._reader = _utilisation_reader()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> UtilisationSampler:
        if self._reader is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.samples.append(self._reader())  # type: ignore[misc]
            except Exception:
                return

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def figures(self) -> dict[str, Any]:
        if not self.samples:
            return {"gpu_util_mean": None, "gpu_util_max": None, "gpu_util_samples": 0}
        return {"gpu_util_mean": round(statistics.fmean(self.samples), 1), "gpu_util_max": max(self.samples),
                "gpu_util_samples": len(self.samples)}


@contextmanager
def peak_memory(figures: dict[str, Any]) -> Iterator[None]:
    """Record the peak GPU memory allocated by torch inside the block (None without CUDA)."""
    import torch

    cuda = torch.cuda.is_available()
    if cuda:
        gc.collect()  # the previous check's model and optimiser, so that they do not count here
        torch.cuda.empty_cache()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    try:
        yield
    finally:
        figures["peak_memory_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None


def callback_classes() -> tuple[type, type]:
    """(LossTrace, StepClock): defined on first use, so that importing this module needs no Lightning."""
    import pytorch_lightning as pl
    import torch

    class LossTrace(pl.Callback):
        """Every step's loss, kept on the device and read once an epoch (no sync a step); stops at NaN/inf."""

        def __init__(self) -> None:
            self.losses: list[float] = []
            self._pending: list[torch.Tensor] = []

        def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                               batch: Any, batch_idx: int) -> None:
            loss = outputs["loss"] if isinstance(outputs, dict) else outputs
            self._pending.append(loss.detach().float().reshape(()))

        def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            if self._pending:
                self.losses.extend(torch.stack(self._pending).cpu().tolist())
                self._pending = []
            if not all(math.isfinite(v) for v in self.losses):
                trainer.should_stop = True

    class StepClock(pl.Callback):
        """Images per second between the first and the last step of each epoch (the device synced there only).

        Leaves out what an epoch adds around its steps (loader start, validation, checkpoints): with ~4 steps
        an epoch on the 300-style catalog those would swamp the data path that the ceiling is compared with.
        """

        def __init__(self) -> None:
            self.images = 0
            self.seconds = 0.0
            self._start: float | None = None
            self._images = 0

        def _sync(self, pl_module: pl.LightningModule) -> None:
            if pl_module.device.type == "cuda":
                torch.cuda.synchronize(pl_module.device)

        def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                               batch: Any, batch_idx: int) -> None:
            last = batch_idx + 1 >= trainer.num_training_batches
            if batch_idx == 0 or last:
                self._sync(pl_module)
            if batch_idx == 0:
                self._start, self._images = time.perf_counter(), 0
            else:
                self._images += int(batch["image"].shape[0])
            if last and batch_idx > 0 and self._start is not None:
                self.seconds += time.perf_counter() - self._start
                self.images += self._images

        @property
        def images_per_second(self) -> float:
            return self.images / self.seconds if self.seconds > 0 else 0.0

    return LossTrace, StepClock


def random_batch(b: int, size: int, masks: bool, pk_k: int, device: Any) -> dict[str, Any]:
    import torch

    g = torch.Generator().manual_seed(0)
    batch = {"image": torch.randint(0, 256, (b, 3, size, size), dtype=torch.uint8, generator=g),
             "style": torch.arange(b) // pk_k, "product": torch.arange(b) // 2, "index": torch.arange(b)}
    if masks:
        mask = torch.zeros(b, 1, size, size, dtype=torch.uint8)
        mask[..., size // 8: -size // 8, size // 8: -size // 8] = 255
        batch["mask"] = mask
    return {k: v.to(device) for k, v in batch.items()}


@contextmanager
def frozen_views(module: Any, batch: dict[str, Any]) -> Iterator[None]:
    """Make the method's views once from ``batch`` and hand the same tensors back on every later call.

    ``compute_loss`` then runs the model alone (backbone, heads, loss) on fixed inputs: the model's ceiling.
    The view maker is whichever of ``make_views`` / ``views`` the method has; the patch lives on the instance.
    """
    name = next((n for n in ("make_views", "views") if hasattr(module, n)), None)
    if name is None:
        raise AttributeError(f"{type(module).__name__} has neither make_views nor views")
    real = getattr(module, name)
    made: dict[str, Any] = {}

    def once(*args: Any, **kwargs: Any) -> Any:
        if "out" not in made:
            made["out"] = real(*args, **kwargs)
        return made["out"]

    object.__setattr__(module, name, once)  # bypasses nn.Module's submodule registry; the instance attr wins
    try:
        yield
    finally:
        del module.__dict__[name]
