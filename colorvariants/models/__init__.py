"""Models stage: backbones (``create_backbone``) and the training methods built on them.

The names below are imported on first use, so that ``colorvariants.models.choices`` (read by the CLI's parser)
does not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from colorvariants.models.backbones import BACKBONES, create_backbone, register_backbone

__all__ = ["BACKBONES", "create_backbone", "register_backbone"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("colorvariants.models.backbones"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
