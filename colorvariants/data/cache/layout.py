"""The image cache folder's files, its row states and its ``meta.json`` format.

A folder ``images-<key>/`` (see ``key.py``) holds ``images.npy`` (and ``masks.npy``), ``progress.log`` while
building, ``files.npy`` (the size and mtime of each row's image and mask files), then ``valid.npy`` and,
written atomically and last, ``meta.json``: only a folder with ``meta.json`` is complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from colorvariants.errors import ColorVariantsError
from colorvariants.metafile import META_FILE, MetaFormat, read_meta

CACHE_FORMAT = "colorvariants.image_cache"
CACHE_VERSION = 1

IMAGES_FILE, MASKS_FILE, VALID_FILE, PROGRESS_FILE, LOCK_FILE = (
    "images.npy", "masks.npy", "valid.npy", "progress.log", "build.lock"
)
# The size and mtime of each row's source files the pixels were decoded from (``Catalog.file_stats``).
FILES_FILE = "files.npy"
# What the build knows of each row.
PENDING, OK, SKIPPED = 0, 1, 2


class IncompleteCacheError(ColorVariantsError):
    """A cache folder is absent, unfinished, or does not match the catalog it is opened for."""


CACHE_META = MetaFormat(
    CACHE_FORMAT, CACHE_VERSION, "image cache", IncompleteCacheError,
    writer="ImageCache.build (or the training command)", unfinished="never built, or the build was interrupted",
)


def read_cache_meta(directory: Path) -> dict[str, Any]:
    """The folder's checked ``meta.json``; ``IncompleteCacheError`` when it is missing, unfinished or foreign."""
    return read_meta(directory, CACHE_META, counts=("count", "size"))


def finished_meta(directory: Path) -> dict[str, Any] | None:
    """The folder's checked ``meta.json``, or None when the folder is not a finished cache (yet)."""
    try:
        return read_cache_meta(directory)
    except IncompleteCacheError:
        return None


def recorded_stats(directory: Path) -> np.ndarray | None:
    """The file stats the folder's pixels were decoded from, or None when not recorded (or unreadable)."""
    try:
        stats = np.load(directory / FILES_FILE)
    except (OSError, ValueError):
        return None
    return stats if stats.ndim == 2 and stats.dtype == np.int64 else None


def forget_meta(directory: Path) -> None:
    """Make a finished folder unfinished again (before repairing it or retrying its skipped rows)."""
    (directory / META_FILE).unlink(missing_ok=True)
