"""SimCLR baseline, faithful to lightly's recipe (Chen et al., 2020; lightly's SimCLR example and benchmarks).

lightly's pieces: ``SimCLRProjectionHead(512, 512, 128)``, ``NTXentLoss`` (temperature 0.5 as in lightly's
examples), SGD 0.06 x batch/128 with momentum 0.9, wd 5e-4 and cosine decay; views reproduce
``SimCLRTransform``'s defaults, batched on tensors. Colour jitter is lightly's default (hue 0.2), so the model is
free to learn colour: the seed paper's finding is that this hurts colour-variant retrieval.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead

from colorvariants.data.augment import SimCLRViewConfig, SimCLRViews
from colorvariants.models.base import BaseConfig, EmbeddingModule
from colorvariants.models.registry import register_method


@dataclass
class SimCLRConfig(BaseConfig):
    """SimCLR settings; ``views`` is lightly's SimCLRTransform as a dataclass."""

    views: SimCLRViewConfig = field(default_factory=SimCLRViewConfig)
    hidden_dim: int = 512
    output_dim: int = 128
    temperature: float = 0.5
    gather_distributed: bool = True


@register_method("simclr")
class SimCLRModule(EmbeddingModule):
    """Backbone + SimCLR projection head + NT-Xent over two random views."""

    config_class = SimCLRConfig

    def __init__(self, config: SimCLRConfig) -> None:
        super().__init__(config)
        self.config: SimCLRConfig = config
        self.projection_head = SimCLRProjectionHead(self.backbone.out_dim, config.hidden_dim, config.output_dim)
        self.criterion = NTXentLoss(temperature=config.temperature, gather_distributed=config.gather_distributed)
        self.make_views = SimCLRViews(dataclasses.replace(config.views, input_size=config.image_size))

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        x0, x1 = self.make_views(self.to_uint8_sized(batch["image"]))
        z = self.projection_head(self.backbone(self._prep(torch.cat([x0, x1]))))
        z0, z1 = z.chunk(2)
        return self.criterion(z0, z1), {}
