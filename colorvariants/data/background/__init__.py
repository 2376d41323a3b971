"""Background removal: backends that find the garment in a product photo and return its foreground mask.

Removing the background is a preprocessing option measured by an ablation, never a silent default (Liang, Liu,
Vlassov 2023, "The Impact of Background Removal on Performance of Neural Networks for Fashion Image
Classification and Segmentation": it helps shallow networks trained from scratch, not pretrained deep ones).

Backends register themselves in ``BACKGROUND_REMOVERS`` with ``@register_remover(name)``; each one is a class
built from its own dataclass config with one method, ``mask(image) -> uint8 (H, W)`` (0 background, 255 garment):

- ``floodfill``: offline, no weights: region-grows the background from the image border (studio backdrops,
  gradients, two-tone sets).
- ``grabcut``: offline, no weights: OpenCV GrabCut seeded with the border as background.
- ``rembg``: the ``rembg`` package's salient-object models (optional extra, weights placed beforehand).

>>> remover = create_remover("floodfill")                  # doctest: +SKIP
>>> mask = remover.mask(load_rgb("shirt.jpg"))             # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

import numpy as np
from PIL import Image

from colorvariants.data.boxes import mask_bbox
from colorvariants.errors import ColorVariantsError


@runtime_checkable
class BackgroundRemover(Protocol):
    """What every backend offers: the garment's mask for one RGB image, at the image's own size."""

    def mask(self, image: Image.Image) -> np.ndarray:
        """Return ``uint8 (H, W)`` with 0 for background and 255 for the garment."""
        ...


RemoverT = TypeVar("RemoverT", bound=type)

BACKGROUND_REMOVERS: dict[str, type[Any]] = {}
"""Backend name -> class. The class has ``config_class`` (a dataclass) and ``__init__(config)``."""

OFFLINE_DEFAULT = "floodfill"
"""The backend used when a mask is needed (``crop="mask"``) but no backend was chosen: needs no weights."""


def register_remover(name: str) -> Callable[[RemoverT], RemoverT]:
    """Class decorator adding a backend to ``BACKGROUND_REMOVERS`` under ``name``."""

    def decorator(cls: RemoverT) -> RemoverT:
        if name in BACKGROUND_REMOVERS:
            raise ValueError(f"background remover {name!r} registered twice")
        if not dataclasses.is_dataclass(getattr(cls, "config_class", None)):
            raise TypeError(f"{cls.__name__} needs a dataclass attribute 'config_class'")
        BACKGROUND_REMOVERS[name] = cls
        return cls

    return decorator


def create_remover(name: str, **options: Any) -> BackgroundRemover:
    """Build the backend ``name`` with config fields from ``options`` (e.g. ``model="u2net"`` for rembg).

    Raises:
        ColorVariantsError: unknown backend or option (the message lists the valid ones), or a backend that
            cannot run here (rembg without its package or weights: the message says how to fix it).
    """
    if name not in BACKGROUND_REMOVERS:
        raise ColorVariantsError(
            f"unknown background remover {name!r}. Fix: choose one of {sorted(BACKGROUND_REMOVERS)}."
        )
    cls = BACKGROUND_REMOVERS[name]
    config_class = cls.config_class
    valid = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(options) - valid)
    if unknown:
        raise ColorVariantsError(
            f"background remover {name!r} has no option(s) {unknown}. Fix: use only {sorted(valid)}."
        )
    return cast(BackgroundRemover, cls(config_class(**options)))


def work_array(image: Image.Image, max_side: int) -> np.ndarray:
    """The image as ``uint8 (h, w, 3)`` RGB, shrunk so its longer side is at most ``max_side`` (speed: masks
    are smooth shapes, so finding them at a few hundred pixels and scaling up loses little)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    w, h = rgb.size
    scale = min(1.0, max_side / max(w, h))
    if scale < 1.0:
        rgb = rgb.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


# Importing the backends fills the registry (they import the names above, hence the position).
from colorvariants.data.background import floodfill, grabcut, rembg_backend  # noqa: E402,F401
from colorvariants.data.background.floodfill import FloodFillConfig, FloodFillRemover  # noqa: E402
from colorvariants.data.background.grabcut import GrabCutConfig, GrabCutRemover  # noqa: E402
from colorvariants.data.background.masks import MaskCache, mask_iou, read_mask, write_mask  # noqa: E402
from colorvariants.data.background.rembg_backend import RembgConfig, RembgRemover  # noqa: E402

__all__ = [
    "BACKGROUND_REMOVERS",
    "OFFLINE_DEFAULT",
    "BackgroundRemover",
    "FloodFillConfig",
    "FloodFillRemover",
    "GrabCutConfig",
    "GrabCutRemover",
    "MaskCache",
    "RembgConfig",
    "RembgRemover",
    "create_remover",
    "mask_bbox",
    "mask_iou",
    "read_mask",
    "register_remover",
    "work_array",
    "write_mask",
]
