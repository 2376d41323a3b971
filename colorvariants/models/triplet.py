"""Supervised triplet model: styles are the labels, so colour variants are positives (method.md, section 1).

Trained on PK batches (P styles x K images; the data module's ``PKBatchSampler``), with a linear embedding head
on the pooled backbone features and a mined triplet margin loss. Views: mild geometry only, since the labels
already teach colour invariance (the positives *are* colour variants).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import torch
from torch import nn

from colorvariants.data.augment import random_hflip, random_resized_crop
from colorvariants.models.base import BaseConfig, EmbeddingModule
from colorvariants.models.choices import TripletEmbedding
from colorvariants.models.losses import TripletLoss
from colorvariants.models.optim import OptimizerConfig
from colorvariants.models.registry import register_method


@dataclass
class TripletConfig(BaseConfig):
    """Triplet model settings (margin 0.2 is method.md's default).

    Semi-hard mining by default: batch-hard from scratch collapsed every embedding to one point (loss stuck at
    the margin, held-out recall@1 0.053 vs 0.395 for semi-hard after 2 CPU minutes, 300 styles; BENCHMARKS.md).
    """

    embedding_dim: int = 128
    margin: float = 0.2
    mining: str = "semihard"  # a MINERS name (models/losses/triplet.py)
    min_scale: float = 0.6  # random-resized-crop scale of the mild geometric augmentation
    hflip_prob: float = 0.5
    embedding: TripletEmbedding = "head"  # "head" (trained by the loss) or "backbone" (pooled features)
    optimizer: OptimizerConfig = field(
        default_factory=lambda: OptimizerConfig(name="adamw", lr=1e-3, weight_decay=1e-4, warmup_epochs=0.0,
                                                scale_lr_with_batch=False)
    )


@register_method("triplet")
class TripletModule(EmbeddingModule):
    """ResNet + linear head trained with a mined triplet loss on style labels."""

    config_class = TripletConfig

    def __init__(self, config: TripletConfig) -> None:
        super().__init__(config)
        self.config: TripletConfig = config
        self.head = nn.Linear(cast(int, self.backbone.out_dim), config.embedding_dim)  # set by create_backbone
        self.criterion = TripletLoss(margin=config.margin, mining=config.mining)

    def views(self, images: torch.Tensor) -> torch.Tensor:
        x = self.to_float(images)
        x = random_resized_crop(x, self.config.image_size, scale=(self.config.min_scale, 1.0))
        x = random_hflip(x, self.config.hflip_prob)
        return self._prep(self.normalize(x))

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        z = self.head(self.backbone(self.views(batch["image"])))
        return self.criterion(z, batch["style"]), {}

    def retrieval_features(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(x)
        return self.head(feats) if self.config.embedding == "head" else feats
