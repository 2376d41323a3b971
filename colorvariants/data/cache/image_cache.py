"""``ImageCache``: open (or build, then open) the decoded-image cache of a catalog as memory maps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from colorvariants.data.cache.builder import Builder
from colorvariants.data.cache.journal import build_lock
from colorvariants.data.cache.key import cache_path
from colorvariants.data.cache.layout import (
    IMAGES_FILE,
    MASKS_FILE,
    VALID_FILE,
    IncompleteCacheError,
    finished_meta,
    forget_meta,
    read_cache_meta,
    recorded_stats,
)
from colorvariants.data.catalog import Catalog
from colorvariants.data.choices import CROP_MODES, ON_ERROR_POLICIES, CropMode, OnError, check_choice
from colorvariants.data.images import DEFAULT_MAX_PIXELS
from colorvariants.data.problems import Problem
from colorvariants.errors import ManifestError


@dataclass
class ImageCache:
    """Decoded, letterboxed images of a catalog in a memory map (see ``colorvariants.data.cache`` for the layout).

    Attributes:
        directory: the cache folder.
        images: uint8 memmap (N, size, size, 3), catalog row order; rows that were skipped are white.
        masks: uint8 memmap (N, size, size) of 0/255 letterboxed with 0; None when the catalog has none.
        valid: bool (N,): False for skipped rows.
        skipped: the problem of each skipped row.
        size: side of the square images.
        crop: ``none``, ``bbox`` or ``mask``.
        meta: the content of ``meta.json``.
    """

    directory: Path
    images: np.ndarray
    masks: np.ndarray | None
    valid: np.ndarray
    skipped: list[Problem]
    size: int
    crop: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.valid)

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        size: int,
        cache_dir: str | Path | None = None,
        *,
        on_error: OnError = "raise",
        crop: CropMode = "none",
        workers: int = 2,
        progress: bool = True,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        chunk_size: int = 256,
        stats: np.ndarray | None = None,
    ) -> ImageCache:
        """Decode every image of ``catalog`` once (or reuse / resume an existing cache) and open it.

        Args:
            catalog: the images, in the row order the cache keeps.
            size: side of the square each image is letterboxed to.
            cache_dir: parent folder; default ``default_cache_dir()``.
            on_error: ``raise`` stops at the first unreadable image (rows decoded so far are kept for the
                rerun); ``skip`` records it in ``skipped``, marks it invalid and goes on. A complete cache
                with skipped rows built again with ``raise`` retries those rows (a fixed file is picked up).
            crop: ``none``; ``bbox``: crop to the manifest's bbox columns grown by the crop margin
                (``colorvariants.data.boxes``; rows without a valid box keep the whole image); ``mask``: crop to
                the mask's foreground box grown the same way (an empty mask keeps the whole image). Boxes are in
                displayed pixels, after EXIF rotation.
            workers: decoding threads (PIL releases the GIL while decoding and resizing).
            progress: show a tqdm bar.
            max_pixels: decompression-bomb guard, see ``load_rgb``.
            chunk_size: rows decoded between progress records (a crash redoes at most this many).
            stats: ``catalog.file_stats()`` when the caller already took them (one snapshot, one stat pass);
                None takes them here.

        Raises:
            ImageLoadError: with ``on_error="raise"``, naming the file, the row and the fix.
            ManifestError: ``crop="bbox"`` without bbox columns, or ``crop="mask"`` without masks.
        """
        check_choice("on_error", on_error, ON_ERROR_POLICIES)
        check_choice("crop", crop, CROP_MODES)
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        if len(catalog) == 0:
            raise ManifestError(
                "the catalog has no rows: nothing to cache.", file=catalog.source,
                fix="add images to the manifest.",
            )
        if crop == "bbox" and not catalog.has_bbox():
            raise ManifestError(
                "crop='bbox' needs the columns bbox_x0, bbox_y0, bbox_x1, bbox_y1.", file=catalog.source,
                fix="add the box columns to the manifest, or use crop='none'.",
            )
        if crop == "mask" and not catalog.has_masks():
            raise ManifestError(
                "crop='mask' needs a mask_path for every row.", file=catalog.source,
                fix="add mask_path (foreground PNGs), or use crop='none' / 'bbox'.",
            )
        directory = cache_path(catalog, size, cache_dir, crop)
        directory.mkdir(parents=True, exist_ok=True)
        stats = catalog.file_stats() if stats is None else stats
        with build_lock(directory):
            meta = finished_meta(directory)
            if meta is not None:
                try:
                    cache = cls._open_dir(directory, meta, expect_count=len(catalog))
                except IncompleteCacheError:  # arrays lost or damaged after completion: rebuild what is needed
                    cache = None
                old = recorded_stats(directory)
                current = old is not None and np.array_equal(old, stats)
                if cache is not None and current and not (on_error == "raise" and cache.skipped):
                    return cache
                # Redoing changed images, retrying skipped rows, or repairing: the folder is unfinished until
                # meta.json is rewritten.
                forget_meta(directory)
            Builder(
                catalog, directory, size, crop, on_error, workers, progress, max_pixels, chunk_size, stats
            ).run()
            return cls._open_dir(directory, read_cache_meta(directory), expect_count=len(catalog))

    @classmethod
    def open(
        cls, catalog: Catalog, size: int, cache_dir: str | Path | None = None, *, crop: CropMode = "none"
    ) -> ImageCache:
        """Open the complete cache of ``catalog`` at ``size`` and ``crop`` without decoding anything.

        Raises:
            IncompleteCacheError: no complete cache for this catalog, or an image or mask file changed since it
                was built (build it with ``ImageCache.build``: only the changed rows are decoded again).
        """
        directory = cache_path(catalog, size, cache_dir, crop)
        cache = cls.open_dir(directory, expect_count=len(catalog))
        old = recorded_stats(directory)
        changed = catalog.changed_file(old) if old is not None else None
        if old is None or changed is not None:
            what = (f"images changed since the cache was built (e.g. {changed})" if old is not None
                    else "no record of the image files the cache was built from (an older colorvariants)")
            raise IncompleteCacheError(
                f"{directory}: {what}.",
                fix="build it again with ImageCache.build (only the changed images are decoded again).",
            )
        return cache

    @classmethod
    def open_dir(cls, directory: str | Path, *, expect_count: int | None = None) -> ImageCache:
        """Open a complete cache folder read-only.

        Raises:
            IncompleteCacheError: the folder has no ``meta.json`` (never built, or a build still running or
                interrupted), its ``meta.json`` is not a cache's of this version, or its arrays do not match it.
        """
        directory = Path(directory)
        return cls._open_dir(directory, read_cache_meta(directory), expect_count=expect_count)

    @classmethod
    def _open_dir(cls, directory: Path, meta: dict[str, Any], *, expect_count: int | None) -> ImageCache:
        count, size = int(meta["count"]), int(meta["size"])
        if expect_count is not None and count != expect_count:
            raise IncompleteCacheError(
                f"{directory}: the cache holds {count} images but the catalog has {expect_count}.",
                fix="delete the folder and rebuild.",
            )
        try:
            images = np.load(directory / IMAGES_FILE, mmap_mode="r")
            masks = np.load(directory / MASKS_FILE, mmap_mode="r") if meta.get("has_masks") else None
            valid = np.load(directory / VALID_FILE)
        except (OSError, ValueError) as exc:
            raise IncompleteCacheError(
                f"{directory}: cache arrays unreadable ({exc}).", fix="delete the folder and rebuild."
            ) from exc
        shapes_ok = (
            images.shape == (count, size, size, 3)
            and images.dtype == np.uint8
            and valid.shape == (count,)
            and (masks is None or masks.shape == (count, size, size))
        )
        if not shapes_ok:
            raise IncompleteCacheError(
                f"{directory}: arrays do not match meta.json.", fix="delete the folder and rebuild."
            )
        skipped = [Problem(**p) for p in meta.get("skipped", [])]
        return cls(directory, images, masks, valid.astype(bool), skipped, size, str(meta["crop"]), meta)
