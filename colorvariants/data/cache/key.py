"""The image cache's key: which folder holds the cache of a catalog at a size and crop.

The key covers the list of image paths and the root (``Catalog.fingerprint``), the size, the crop, and the
mask paths / boxes / crop margin when they are used. An image replaced in place keeps its key: the folder's
``files.npy`` (size and mtime per row) tells the build which rows to decode again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from colorvariants.data.boxes import CROP_MARGIN
from colorvariants.data.catalog import BBOX_COLUMNS, Catalog


def default_cache_dir() -> Path:
    """``$COLORVARIANTS_CACHE``, else ``~/.cache/colorvariants``."""
    env = os.environ.get("COLORVARIANTS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "colorvariants"


def _extra_key(catalog: Catalog, crop: str) -> str:
    """A digest of what else the pixels depend on: mask paths, boxes for bbox crops, the margin of any crop."""
    if not catalog.has_masks() and crop != "bbox":
        return ""
    h = hashlib.sha1()
    if crop != "none":  # the margin rule changed once (4% of the longer side -> 5% per side): never reuse those
        h.update(f"margin={CROP_MARGIN}".encode())
    if catalog.has_masks():
        for path in catalog.frame["mask_path"].tolist():
            h.update(b"\0" + str(path).encode())
    if crop == "bbox":
        boxes = catalog.frame[list(BBOX_COLUMNS)].to_numpy(dtype=np.float64)
        h.update(np.ascontiguousarray(boxes).tobytes())
    return h.hexdigest()[:8]


def cache_path(catalog: Catalog, size: int, cache_dir: str | Path | None = None, crop: str = "none") -> Path:
    """The folder that holds (or will hold) the cache of ``catalog`` at ``size`` with ``crop``."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    extra = _extra_key(catalog, crop)
    return root / (f"images-{catalog.fingerprint()}-{size}-{crop}" + (f"-{extra}" if extra else ""))
