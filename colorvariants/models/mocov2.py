"""MoCo v2 baseline, faithful to lightly's recipe (He et al., 2020; Chen et al., 2020 "Improved Baselines").

lightly's pieces: ``MoCoProjectionHead(512, 512, 128)``, a momentum copy of backbone and head updated with
``update_momentum`` on a ``cosine_schedule`` from 0.996 to 1, ``NTXentLoss(temperature=0.1,
memory_bank_size=(4096, 128))`` whose ``MemoryBankModule`` is gathered across processes under DDP; views
reproduce ``MoCoV2Transform``'s defaults. SGD 0.06 x batch/128, momentum 0.9, wd 5e-4, cosine decay.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from dataclasses import dataclass, field

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import MoCoProjectionHead
from lightly.models.utils import deactivate_requires_grad, update_momentum
from lightly.utils.scheduler import cosine_schedule

from colorvariants.data.augment import MoCoV2ViewConfig, MoCoV2Views
from colorvariants.models.base import BaseConfig, EmbeddingModule
from colorvariants.models.registry import register_method

log = logging.getLogger(__name__)


@dataclass
class MoCoV2Config(BaseConfig):
    """MoCo v2 settings; ``memory_bank_size`` is the number of negatives kept (lightly's examples: 4096)."""

    views: MoCoV2ViewConfig = field(default_factory=MoCoV2ViewConfig)
    hidden_dim: int = 512
    output_dim: int = 128
    temperature: float = 0.1
    memory_bank_size: int = 4096
    # The bank is capped at this fraction of the training images (None: never capped). A bank larger than the
    # catalog holds each image several times, so a query's own older keys become negatives and the loss rises.
    memory_bank_max_fraction: float | None = 0.5
    momentum_start: float = 0.996
    momentum_end: float = 1.0
    gather_distributed: bool = True


def capped_bank_size(requested: int, n_train: int, keys_per_step: int, max_fraction: float | None) -> int:
    """The bank size used: ``requested``, or at most ``max_fraction`` of the training images, rounded down to
    whole steps of keys (at least one step) so the queue wraps on a batch boundary."""
    if max_fraction is None or requested <= max_fraction * n_train:
        return requested
    steps = max(1, int(max_fraction * n_train) // max(1, keys_per_step))
    return min(requested, steps * keys_per_step)


@register_method("mocov2")
class MoCoV2Module(EmbeddingModule):
    """Query encoder trained against a momentum key encoder and a memory bank of negatives."""

    config_class = MoCoV2Config

    def __init__(self, config: MoCoV2Config) -> None:
        super().__init__(config)
        self.config: MoCoV2Config = config
        self.projection_head = MoCoProjectionHead(self.backbone.out_dim, config.hidden_dim, config.output_dim)
        self.backbone_momentum = copy.deepcopy(self.backbone)
        self.projection_head_momentum = copy.deepcopy(self.projection_head)
        deactivate_requires_grad(self.backbone_momentum)
        deactivate_requires_grad(self.projection_head_momentum)
        self.criterion = NTXentLoss(
            temperature=config.temperature,
            memory_bank_size=(config.memory_bank_size, config.output_dim),
            gather_distributed=config.gather_distributed,
        )
        self.make_views = MoCoV2Views(dataclasses.replace(config.views, input_size=config.image_size))

    def setup(self, stage: str) -> None:
        """Cap the memory bank below the number of training images (lightly's 4096 assumes a large dataset)."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        n_train = len(getattr(datamodule, "train_rows", ()))
        if datamodule is None or stage != "fit" or not n_train:
            return
        per_step = int(datamodule.config.batch_size) * (self.trainer.world_size if self.config.gather_distributed else 1)
        size = capped_bank_size(self.config.memory_bank_size, n_train, per_step, self.config.memory_bank_max_fraction)
        if size == self.config.memory_bank_size:
            return
        log.warning("mocov2: memory bank of %d keys is over %s of the %d training images (each image would be a "
                    "negative of itself); using %d keys. Set model.memory_bank_max_fraction=null to keep %d.",
                    self.config.memory_bank_size, self.config.memory_bank_max_fraction, n_train, size,
                    self.config.memory_bank_size)
        self.adjustments["model.memory_bank_size"] = {"requested": self.config.memory_bank_size, "used": size,
                                                      "train_images": n_train}
        self.criterion = NTXentLoss(temperature=self.config.temperature,
                                    memory_bank_size=(size, self.config.output_dim),
                                    gather_distributed=self.config.gather_distributed)

    def momentum(self) -> float:
        """Momentum of the key encoder at the current step (cosine from ``momentum_start`` to ``momentum_end``)."""
        total = self.schedule_total_steps()
        step = int(round(self.schedule_progress(self.global_step, total) * total))
        return float(cosine_schedule(min(step, total), total, self.config.momentum_start, self.config.momentum_end))

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        m = self.momentum()
        update_momentum(self.backbone, self.backbone_momentum, m=m)
        update_momentum(self.projection_head, self.projection_head_momentum, m=m)
        x_query, x_key = self.make_views(self.to_uint8_sized(batch["image"]))
        query = self.projection_head(self.backbone(self._prep(x_query)))
        with torch.no_grad():
            key = self.projection_head_momentum(self.backbone_momentum(self._prep(x_key)))
        return self.criterion(query, key), {"momentum": m}
