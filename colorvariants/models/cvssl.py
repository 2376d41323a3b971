"""CV-SSL: contrastive learning on fixed part-based crops with strong colour augmentation (method.md, sec. 3).

Dutta et al., "Color Variants Identification via Contrastive Self-Supervised Representation Learning" (2021):
colour variants are what colour augmentation produces, so an embedding made invariant to colour groups them;
random crops miss the fine design details (collar, print, pocket) that tell similar designs apart, so CV-SSL
contrasts *fixed* parts instead. Two views of an image differ by strong colour change (hue over the full circle,
luminance remap, saturation, grayscale, channel permutation; garment recolour when masks exist) and only mild
geometry; the same fixed parts are cut from both views, and NT-Xent is computed per part over the batch (the
same part of other images are the negatives), averaged over parts. A part's features come from its own crop
through the backbone (``part_source="crop"``, the literal reading) or, by default, from its cells of the whole
view's last feature map (``"pool"``, as PCB does in person re-identification: one backbone pass for all parts).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from lightly.models.modules import SimCLRProjectionHead
from torch import nn

from colorvariants.data.augment import (
    ColorVariantViewConfig,
    ColorVariantViews,
    crop_parts,
    distinct_parts,
    part_boxes,
    pool_parts,
)
from colorvariants.data.choices import check_choice
from colorvariants.models.backbones import feature_map
from colorvariants.models.base import BaseConfig, EmbeddingModule
from colorvariants.models.choices import CVSSL_EMBEDDINGS, PART_SOURCES, CVSSLEmbedding, PartSource
from colorvariants.models.losses import PartNTXentLoss
from colorvariants.models.optim import OptimizerConfig
from colorvariants.models.registry import register_method


@dataclass
class CVSSLConfig(BaseConfig):
    """CV-SSL settings. Every default is ours (the paper's are not public) and is ablated in BENCHMARKS.md."""

    views: ColorVariantViewConfig = field(default_factory=ColorVariantViewConfig)
    layout: str = "halves"  # a PART_LAYOUTS name (data/augment/parts.py): whole + top/bottom/left/right halves
    overlap: float = 0.0
    # "crop": every part is cut from the view and run through the backbone (the paper's literal reading: about
    # 2x the FLOPs of one pass with halves); "pool": one pass on the whole view, each part the mean of its cells
    # of the last feature map (PCB-style; ResNet-18's is 2x2 at 64 px, one row / column per half). "pool" won on
    # val at equal epochs (150 styles, 4 epochs: recall@1 0.280 vs 0.256, mAP@R 0.175 vs 0.155) at about 1.5x
    # the images/s; BENCHMARKS.md "CV-SSL parts: crop vs pool".
    part_source: PartSource = "pool"
    part_size: int | None = None  # side of each part crop; None = image_size // 2 (a half's native height)
    hidden_dim: int = 512
    output_dim: int = 128
    temperature: float = 0.2
    part_heads: bool = False  # one projection head per part instead of a shared one
    embedding: CVSSLEmbedding = "whole"  # retrieval vector: "whole", "concat" (whole + parts) or "mean"
    gather_distributed: bool = True
    # AdamW, as the triplet model: with the few hundred steps a CPU budget allows, SGD 0.06 left CV-SSL below an
    # untrained network on an 80-style catalog (val recall@1 0.122 vs 0.146 after 8 epochs; BENCHMARKS.md).
    optimizer: OptimizerConfig = field(
        default_factory=lambda: OptimizerConfig(name="adamw", lr=1e-3, weight_decay=1e-4, scale_lr_with_batch=False)
    )


@register_method("cvssl")
class CVSSLModule(EmbeddingModule):
    """Shared backbone over the whole image and its fixed parts; NT-Xent per part between two colour views."""

    config_class = CVSSLConfig

    def __init__(self, config: CVSSLConfig) -> None:
        super().__init__(config)
        self.config: CVSSLConfig = config
        check_choice("cvssl embedding", config.embedding, CVSSL_EMBEDDINGS)
        check_choice("cvssl part_source", config.part_source, PART_SOURCES)
        boxes = part_boxes(config.layout, overlap=config.overlap)
        self.whole_index = next((i for i, b in enumerate(boxes) if b.name == "whole"), None)
        self.boxes = boxes
        self.part_box_list = [b for b in boxes if b.name != "whole"]
        self._checked_map: tuple[int, int] | None = None
        self.part_names = [b.name for b in boxes]
        n_heads = len(boxes) if config.part_heads else 1
        self.projection_heads = nn.ModuleList(
            SimCLRProjectionHead(self.backbone.out_dim, config.hidden_dim, config.output_dim) for _ in range(n_heads)
        )
        self.criterion = PartNTXentLoss(temperature=config.temperature, gather_distributed=config.gather_distributed)
        self.make_views = ColorVariantViews(dataclasses.replace(config.views, input_size=config.image_size))

    @property
    def part_size(self) -> int:
        return self.config.part_size or max(16, self.config.image_size // 2)

    def _part_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Backbone features of every part (whole first when the layout has it), from a normalised batch."""
        if self.config.part_source == "pool":
            return list(self._pooled_parts(x).unbind(0))
        feats: list[torch.Tensor] = []
        if self.whole_index is not None:
            feats.append(self.backbone(self._prep(x)))
        if self.part_box_list:
            parts = crop_parts(x, self.part_box_list, self.part_size)  # (P, B, 3, s, s)
            p, b = parts.shape[:2]
            flat = self.backbone(self._prep(parts.flatten(0, 1)))
            feats.extend(flat.view(p, b, -1).unbind(0))
        return feats

    def _pooled_parts(self, x: torch.Tensor) -> torch.Tensor:
        """``(P, B, C)``: one backbone pass, every part (whole included) pooled from its cells of the last map."""
        fmap = feature_map(self.backbone, self._prep(x))
        cells = (int(fmap.shape[-2]), int(fmap.shape[-1]))
        if cells != self._checked_map:
            self._checked_map = cells
            distinct = distinct_parts(self.boxes, *cells)
            if distinct < len(self.boxes):
                warnings.warn(
                    f"cvssl part_source=pool: the backbone's last map is {cells[0]}x{cells[1]} at "
                    f"{x.shape[-1]} px, so only {distinct} of the {len(self.boxes)} parts of layout "
                    f"{self.config.layout!r} differ. Fix: a larger image_size, small_stem, or part_source: crop.",
                    stacklevel=3,
                )
        return pool_parts(fmap, self.boxes)

    def _project(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        if len(self.projection_heads) == 1:
            head = self.projection_heads[0]
            z = head(torch.cat(feats))
            return list(z.chunk(len(feats)))
        return [head(f) for head, f in zip(self.projection_heads, feats, strict=True)]

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        images = batch["image"]
        masks = batch.get("mask")
        size = self.config.image_size
        if masks is not None and images.shape[-1] != size:
            masks = F.interpolate(masks.float(), size=(size, size), mode="nearest").to(torch.uint8)
        images = self.to_uint8_sized(images)
        x0, x1 = self.make_views(images, masks=masks)
        # Both views through the backbone in one pass: larger matmuls, one BN statistic.
        b = x0.shape[0]
        feats = self._part_features(torch.cat([x0, x1]))
        z = self._project(feats)
        za = [t[:b] for t in z]
        zb = [t[b:] for t in z]
        loss = self.criterion(za, zb)
        return loss, {}

    def retrieval_features(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.embedding == "whole" or not self.part_box_list:
            return self.backbone(x)
        feats = [F.normalize(f, dim=1) for f in self._part_features(x)]
        if self.config.embedding == "concat":
            return torch.cat(feats, dim=1)
        return torch.stack(feats).mean(0)
