"""EmbeddingModule: the one LightningModule base that owns backbone, optimiser, schedule and online recall@1.

A method subclasses it and adds only its heads, its views and its loss (``compute_loss``), as solo-learn's
methods do. Images arrive as uint8 batches and are augmented here, batched, on the model's device.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from colorvariants.config import to_dict
from colorvariants.data.augment import IMAGENET_MEAN, IMAGENET_STD
from colorvariants.models.backbones import create_backbone
from colorvariants.models.optim import OptimizerConfig, build_optimizer, warmup_cosine

log = logging.getLogger(__name__)

# Under a time budget with no epoch cap, schedules span this many epochs nominally; progress follows the clock.
UNBOUNDED_HORIZON_EPOCHS = 10_000


@dataclass
class BaseConfig:
    """What every method shares: the backbone, the input size, the optimiser."""

    backbone: str = "resnet18"
    pretrained: str | None = None  # a local weights file; nothing is downloaded
    small_stem: bool = False
    image_size: int = 64
    channels_last: bool = True  # faster convolutions on CPU (oneDNN) and on tensor cores
    # torch.compile (inductor) of the backbone's stages at the start of training; the compile time counts
    # against a time budget, and a failure (no C++ compiler, an unsupported op) warns and trains eagerly.
    compile: bool = False
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)


class EmbeddingModule(pl.LightningModule):
    """Base of every method: ``embed`` gives L2-normalised retrieval vectors; subclasses define the loss."""

    method_name: ClassVar[str] = ""
    config_class: ClassVar[type[BaseConfig]] = BaseConfig
    pixel_mean: torch.Tensor  # buffers (register_buffer), typed for mypy
    pixel_std: torch.Tensor

    def __init__(self, config: BaseConfig) -> None:
        super().__init__()
        self.config = config
        # Plain dicts only: checkpoints must load with torch.load(weights_only=True).
        self.save_hyperparameters({"method": self.method_name, "config": to_dict(config)})
        self.backbone = create_backbone(config.backbone, pretrained=config.pretrained, small_stem=config.small_stem)
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._val_embeddings: list[torch.Tensor] = []
        self._val_styles: list[torch.Tensor] = []
        self._val_products: list[torch.Tensor] = []
        self.batch_size_hint = 128
        self.adjustments: dict[str, Any] = {}  # settings the method changed to fit the data (reported by fit)
        self.time_budget_s: float | None = None  # set by fit(): the LR schedule then also ends at the deadline
        self._fit_start: float | None = None
        self.compile_seconds: float | None = None  # how long compiling took (config.compile), for reports
        self._schedule_total: int | None = None  # schedule_total_steps of this fit (counted in configure_optimizers)

    # -- what a method defines ---------------------------------------------------------------------------
    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """The training loss of one batch and extra scalars to log."""
        raise NotImplementedError

    def retrieval_features(self, x: torch.Tensor) -> torch.Tensor:
        """Features used for retrieval from a normalised float batch (default: pooled backbone features)."""
        return self.backbone(x)

    # -- shared machinery --------------------------------------------------------------------------------
    def to_float(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B,3,H,W) -> float in [0,1], resized to ``image_size`` when the cache holds another size."""
        x = images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()
        size = self.config.image_size
        if x.shape[-1] != size or x.shape[-2] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return x

    def to_uint8_sized(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B,3,H,W) at ``image_size``, as batched views take them: resized only when the cache holds another
        size."""
        size = self.config.image_size
        if images.shape[-1] == size and images.shape[-2] == size:
            return images
        return (self.to_float(images) * 255).round().clamp(0, 255).to(torch.uint8)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet mean/std normalisation (what pretrained backbones expect)."""
        return (x - self.pixel_mean) / self.pixel_std

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    @torch.inference_mode()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised float32 retrieval embeddings of a uint8 (or [0,1] float) batch, in eval mode."""
        was_training = self.training
        self.eval()
        try:
            x = self._prep(self.normalize(self.to_float(images.to(self.device))))
            z = self.retrieval_features(x).float()
            return F.normalize(z, dim=1)
        finally:
            self.train(was_training)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, extra = self.compute_loss(batch)
        bs = int(batch["image"].shape[0])
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=bs, sync_dist=False)
        for key, value in extra.items():
            self.log(f"train/{key}", value, on_step=False, on_epoch=True, batch_size=bs)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._val_embeddings.append(self.embed(batch["image"]).cpu())
        self._val_styles.append(batch["style"].cpu())
        self._val_products.append(batch["product"].cpu())

    def on_validation_epoch_end(self) -> None:
        if not self._val_embeddings:
            return
        emb = torch.cat(self._val_embeddings)
        styles = torch.cat(self._val_styles)
        products = torch.cat(self._val_products)
        self._val_embeddings, self._val_styles, self._val_products = [], [], []
        if self.trainer is not None and self.trainer.world_size > 1:
            emb, styles, products = (cast(torch.Tensor, self.all_gather(t.to(self.device))).flatten(0, 1).cpu()
                                     for t in (emb, styles, products))  # a tensor in, a tensor out
        from colorvariants.metrics.retrieval import exact_protocol_metrics

        if not bool(torch.isfinite(emb).all()):
            # Training diverged: say so (and log NaN) rather than drop the metric without a word.
            log.warning("validation embeddings contain NaN/inf at epoch %d: training diverged; lower the "
                        "learning rate (model.optimizer.lr) or resume from an earlier checkpoint", self.current_epoch)
            self.log("val/recall@1", float("nan"), prog_bar=True, sync_dist=False, rank_zero_only=False)
            return
        try:
            metrics = exact_protocol_metrics(emb.numpy(), styles.numpy(), products.numpy(), ks=(1, 5))
        except ValueError:  # no evaluable query in this validation split
            return
        self.log("val/recall@1", float(metrics["recall@1"]), prog_bar=True, sync_dist=False, rank_zero_only=False)
        self.log("val/recall@5", float(metrics["recall@5"]), sync_dist=False)
        self.log("val/map@r", float(metrics["map@r"]), sync_dist=False)

    def on_train_start(self) -> None:
        if self._fit_start is None:
            self._fit_start = time.monotonic()
        if self.config.compile:
            self._compile_backbone()

    def _compile_backbone(self) -> None:
        """Compile each stage of the backbone in place (state-dict keys unchanged, so checkpoints stay portable).

        Stages rather than the whole module, so ``feature_map`` (CV-SSL's pooled parts) runs compiled too. One
        forward + backward on a small batch, under the trainer's precision, compiles now and proves it works.
        """
        stages = list(self.backbone.children()) or [self.backbone]
        start = time.monotonic()
        try:
            for stage in stages:
                stage.compile()
            x = torch.rand(4, 3, self.config.image_size, self.config.image_size, device=self.device)
            trainer = self._trainer  # None outside a Trainer (self.trainer would raise)
            with trainer.precision_plugin.forward_context() if trainer is not None else contextlib.nullcontext():
                out = self.backbone(self._prep(self.normalize(x)))
            out.float().sum().backward()
            self.zero_grad(set_to_none=True)
        except Exception as exc:  # inductor raises many types (BackendCompilerFailed, CalledProcessError, ...)
            for stage in stages:
                stage._compiled_call_impl = None  # back to eager
            self.zero_grad(set_to_none=True)
            log.warning("torch.compile failed (%s: %s); training eagerly", type(exc).__name__, str(exc)[:200])
            return
        log.info("backbone compiled in %.1f s", time.monotonic() - start)
        self.compile_seconds = time.monotonic() - start

    def schedule_progress(self, step: int, total_steps: int) -> float:
        """Fraction of training done: by steps, or by wall-clock when a time budget ends training sooner."""
        progress = step / max(1, total_steps)
        if self.time_budget_s and self._fit_start is not None:
            progress = max(progress, (time.monotonic() - self._fit_start) / self.time_budget_s)
        return min(1.0, progress)

    def steps_per_epoch(self) -> int:
        """Optimiser steps in one training epoch (1 without a trainer)."""
        if self._trainer is None:
            return 1
        total = self.trainer.estimated_stepping_batches  # also sets up the train loader
        epochs = self.trainer.max_epochs
        if math.isfinite(total) and epochs and epochs > 0:
            return max(1, int(total) // epochs)
        if self.trainer.train_dataloader is None:
            self.trainer.fit_loop.setup_data()  # no epoch cap: Lightning's estimate skips loading the data
        batches = self.trainer.num_training_batches
        return max(1, int(batches) // max(1, self.trainer.accumulate_grad_batches)) if math.isfinite(batches) else 1

    def schedule_total_steps(self) -> int:
        """Steps the LR and momentum schedules span, counted once per fit (MoCo's momentum asks every step). With
        no epoch cap (only a time budget) the step count is unknown: a long nominal horizon stands in, and
        ``schedule_progress`` follows the wall clock instead."""
        if self._trainer is None:
            return 1
        if self._schedule_total is None:
            self._schedule_total = self._count_schedule_steps()
        return self._schedule_total

    def _count_schedule_steps(self) -> int:
        total = self.trainer.estimated_stepping_batches
        if math.isfinite(total):
            return max(1, int(total))
        return self.steps_per_epoch() * UNBOUNDED_HORIZON_EPOCHS

    def configure_optimizers(self) -> Any:
        opt_cfg = self.config.optimizer
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = build_optimizer(params, opt_cfg, self.batch_size_hint)
        self._schedule_total = None  # called once per fit: count this fit's steps afresh
        total = self.schedule_total_steps()
        steps_per_epoch = self.steps_per_epoch()
        warmup = int(opt_cfg.warmup_epochs * steps_per_epoch)
        def factor(step: int) -> float:
            # Progress >= step/total, so under a time budget the cosine still reaches 0 at the deadline.
            equivalent_step = int(round(self.schedule_progress(step, total) * total))
            return warmup_cosine(equivalent_step, total, warmup, opt_cfg.schedule)

        sched = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
