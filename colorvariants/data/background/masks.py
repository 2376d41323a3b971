"""Foreground masks: read, write, clean up, compare, and cache them so background removal runs once per image.

A mask is a ``uint8`` array ``(H, W)`` holding 0 (background) or 255 (garment), saved as a single-channel PNG,
the format of the manifest's ``mask_path`` column. A mask's box is ``colorvariants.data.boxes.mask_bbox``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from colorvariants.data.images import load_mask
from colorvariants.errors import ImageLoadError
from colorvariants.io import atomic_path


def read_mask(path: str | Path, *, size: tuple[int, int] | None = None, row: int | None = None) -> np.ndarray:
    """Read a mask file as ``uint8 (H, W)`` 0/255, scaled to ``size`` = ``(width, height)`` of its image.

    Decoding (alpha cut-outs, 16-bit, EXIF rotation) is ``colorvariants.data.images.load_mask``'s. A mask saved
    at another resolution is resized; one of another *shape* is an error, since a mask that does not line up
    with its image would crop or blank the wrong pixels.

    Raises:
        ImageLoadError: the file is missing or unreadable, or its aspect ratio differs from the image's.
    """
    mask = load_mask(path, row=row)
    if size is None or (mask.shape[1], mask.shape[0]) == tuple(size):
        return mask
    if abs(mask.shape[1] / mask.shape[0] - size[0] / size[1]) > 0.02 * size[0] / size[1]:
        raise ImageLoadError(
            path,
            f"mask is {mask.shape[1]}x{mask.shape[0]} but its image is {size[0]}x{size[1]} (another shape).",
            fix="export the mask at the image's size (after applying the image's EXIF rotation).",
            row=row,
        )
    return resize_mask(mask, size)


def write_mask(path: str | Path, mask: np.ndarray) -> None:
    """Write a 0/255 mask as a single-channel PNG atomically (a killed run never leaves half a mask)."""
    arr = np.where(np.asarray(mask) > 127, 255, 0).astype(np.uint8)
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(arr, mode="L").save(tmp, format="PNG", optimize=False)


def mask_iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two masks' foregrounds (1.0 when both are empty)."""
    a = np.asarray(pred) > 127
    b = np.asarray(truth) > 127
    union = np.logical_or(a, b).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(a, b).sum() / union)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """Keep only the largest 8-connected foreground component (specks and stray blobs go)."""
    fg = (mask > 127).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if n <= 2:  # background plus at most one component
        return np.where(fg > 0, 255, 0).astype(np.uint8)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return np.where(labels == biggest, 255, 0).astype(np.uint8)


def clean_mask(mask: np.ndarray, *, kernel_frac: float = 0.01, keep_largest: bool = True) -> np.ndarray:
    """Morphological clean-up: open (drop specks and hairlines), close (bridge small gaps), keep the largest part.

    ``kernel_frac`` sizes the elliptical kernel relative to the shorter image side (at least 3 pixels), so the
    clean-up means the same at any resolution.
    """
    h, w = mask.shape[:2]
    k = max(3, int(round(min(h, w) * kernel_frac)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    out: np.ndarray = np.where(mask > 127, 255, 0).astype(np.uint8)
    out = cv2.morphologyEx(out, cv2.MORPH_OPEN, kernel)
    out = cv2.morphologyEx(out, cv2.MORPH_CLOSE, kernel)
    if keep_largest:
        out = largest_component(out)
    return out


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a 0/255 mask to ``(width, height)`` with smooth edges, then re-binarise at half level."""
    if (mask.shape[1], mask.shape[0]) == tuple(size):
        return mask
    up = cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR)
    return np.where(up > 127, 255, 0).astype(np.uint8)


class MaskCache:
    """Masks on disk, one PNG per key, so an expensive background removal runs once per image.

    Keys are relative paths (``img/WOMEN/x/01_1_front``); the file is ``directory / (key + ".png")``. Every
    write is atomic, so a file present is a whole mask and a killed run resumes by computing only what is missing.

    >>> cache = MaskCache("out/masks")                                  # doctest: +SKIP
    >>> m = cache.get_or_compute("img/a", lambda: remover.mask(image))  # doctest: +SKIP
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path_for(self, key: str) -> Path:
        """Where the mask of ``key`` lives (whether or not it was computed yet)."""
        return self.directory / f"{key}.png"

    def has(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def load(self, key: str, *, size: tuple[int, int] | None = None) -> np.ndarray:
        return read_mask(self.path_for(key), size=size)

    def store(self, key: str, mask: np.ndarray) -> Path:
        path = self.path_for(key)
        write_mask(path, mask)
        return path

    def get_or_compute(
        self, key: str, compute: Callable[[], np.ndarray], *, size: tuple[int, int] | None = None
    ) -> np.ndarray:
        """The cached mask of ``key``, computing and storing it first when absent."""
        if self.has(key):
            return self.load(key, size=size)
        mask = np.where(np.asarray(compute()) > 127, 255, 0).astype(np.uint8)
        self.store(key, mask)
        return mask
