"""Models stage: backbones (``create_backbone``) and the training methods built on them."""

from __future__ import annotations

from colorvariants.models.backbones import BACKBONES, create_backbone, register_backbone

__all__ = ["BACKBONES", "create_backbone", "register_backbone"]
