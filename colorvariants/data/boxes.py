"""Boxes in image pixels: the ``Box`` type, clip, grow (the one crop margin rule), scale, a mask's box, letterbox.

A box is ``(x0, y0, x1, y1)`` in pixels of the displayed image (after EXIF rotation) with ``x1``/``y1``
exclusive, as ``PIL.Image.crop`` takes it. ``Box`` holds whole pixels; ``FloatBox`` is a box as a manifest or a
computation gives it, before it is rounded (always *outwards*, so a crop never cuts into what it frames).

The crop margin: every crop to a box (the cache's ``crop="bbox"``/``"mask"``, ``preprocess --crop``) first grows
the box by ``margin`` of its own width on the left and on the right, and by ``margin`` of its own height on top
and at the bottom (``grow_box``), ``CROP_MARGIN`` = 5% unless ``preprocess --margin`` says otherwise. It keeps
the garment's outline and a little background inside a tightly drawn box.

>>> grow_box((10, 20, 30, 60), 0.05)
(9.0, 18.0, 31.0, 62.0)
>>> clip_box((9.0, 18.0, 31.0, 62.0), (30, 100))
(9, 18, 30, 62)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]
FloatBox = tuple[float, float, float, float]

CROP_MARGIN = 0.05
"""The share of a box's width (height) added on each side before cropping to it; see the module docstring."""


def _finite_box(box: Sequence[float]) -> FloatBox | None:
    """``box`` as four floats, or None when a value is NaN/inf or the box is empty or inverted."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def clip_box(box: Sequence[float], size: tuple[int, int]) -> Box | None:
    """Round ``box`` outwards to whole pixels inside a ``size`` = (width, height) image; None if nothing is left.

    A box with a NaN or infinite value is None too.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return None
    bx0, by0 = max(0, math.floor(x0)), max(0, math.floor(y0))
    bx1, by1 = min(size[0], math.ceil(x1)), min(size[1], math.ceil(y1))
    return (bx0, by0, bx1, by1) if bx1 > bx0 and by1 > by0 else None


def grow_box(box: Sequence[float], margin: float = CROP_MARGIN) -> FloatBox | None:
    """The crop margin rule: ``box`` grown by ``margin`` x its width left and right, x its height top and bottom.

    Not clipped (the caller clips to the image it crops). None for a box that is empty, inverted or not finite:
    such a box frames nothing, and callers then keep the whole image.
    """
    checked = _finite_box(box)
    if checked is None:
        return None
    x0, y0, x1, y1 = checked
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    return x0 - mx, y0 - my, x1 + mx, y1 + my


def scale_box(box: Sequence[float], sx: float, sy: float) -> FloatBox:
    """``box`` measured in another resolution: x values times ``sx``, y values times ``sy``."""
    return float(box[0]) * sx, float(box[1]) * sy, float(box[2]) * sx, float(box[3]) * sy


def outer_pixels(box: Sequence[float]) -> Box:
    """The whole pixels that cover ``box`` (floor the start, ceil the end), at least one pixel each way."""
    x0, y0 = math.floor(box[0]), math.floor(box[1])
    return x0, y0, max(x0 + 1, math.ceil(box[2])), max(y0 + 1, math.ceil(box[3]))


def mask_bbox(mask: np.ndarray) -> Box | None:
    """The tight box around a mask's foreground (non-zero) pixels, or None when the mask is empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


@dataclass(frozen=True)
class Placement:
    """Where a resized image sits in its letterboxed square: its size and top-left offset."""

    width: int
    height: int
    left: int
    top: int


def letterbox(
    image: Image.Image, size: int, fill: tuple[int, int, int] = (255, 255, 255)
) -> tuple[np.ndarray, Placement]:
    """Resize so the longer side is ``size`` (aspect kept), centred on a ``fill`` square (size, size, 3)."""
    scale = size / max(image.width, image.height)
    w = max(1, min(size, round(image.width * scale)))
    h = max(1, min(size, round(image.height * scale)))
    place = Placement(w, h, (size - w) // 2, (size - h) // 2)
    resized = image if image.size == (w, h) else image.resize((w, h), Image.Resampling.BICUBIC)
    canvas = np.empty((size, size, 3), dtype=np.uint8)
    canvas[...] = np.asarray(fill, dtype=np.uint8)
    canvas[place.top : place.top + h, place.left : place.left + w] = np.asarray(resized, dtype=np.uint8)
    return canvas, place


def letterbox_mask(mask: np.ndarray, box: Box | None, place: Placement, size: int) -> np.ndarray:
    """Crop a 0/255 mask to ``box`` (its own pixels), resize to the image's placement, pad with 0."""
    if box is not None:
        x0, y0, x1, y1 = box
        mask = mask[y0:y1, x0:x1]
    small = Image.fromarray(mask).resize((place.width, place.height), Image.Resampling.BILINEAR)
    out = np.zeros((size, size), dtype=np.uint8)
    out[place.top : place.top + place.height, place.left : place.left + place.width] = np.where(
        np.asarray(small) >= 128, 255, 0
    ).astype(np.uint8)
    return out
