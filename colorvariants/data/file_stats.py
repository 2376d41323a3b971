"""The identity of a catalog's files on disk: (size, mtime_ns) of each image and mask, one ``os.stat`` per file.

Caches and resumable outputs are keyed by the manifest's paths (``Catalog.fingerprint``); an image replaced in
place keeps its path, so they also record these stats and refuse (or redo) work whose files changed since. The
contents are not hashed (that would read every byte of every image); a file rewritten with the same size within
the file system's timestamp resolution, or copied back with its old timestamp preserved, is not noticed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

MISSING = -1
"""The size and mtime recorded for a file that cannot be stat'ed (absent, or an empty path cell)."""
CHANGED = -2
"""A size recorded for a row whose file is known to have changed and is not yet redone (never a real size)."""


def file_stats(root: Path, rels: Sequence[str]) -> np.ndarray:
    """(len(rels), 2) int64: size and mtime_ns of ``root / rel`` per entry; each distinct path is stat'ed once.

    A missing or unreadable file (or an empty ``rel``) reads as ``(MISSING, MISSING)``: reporting it is the
    job of validation and of the image loader, not of this.
    """
    codes, distinct = pd.factorize(pd.Series(list(rels), dtype=object))
    base = os.fspath(root)
    stats = np.array([_stat(base, str(rel)) for rel in distinct], dtype=np.int64).reshape(-1, 2)
    return stats[codes] if len(codes) else np.zeros((0, 2), dtype=np.int64)


def _stat(base: str, rel: str) -> tuple[int, int]:
    if not rel or "\x00" in rel:
        return MISSING, MISSING
    try:
        st = os.stat(os.path.join(base, rel))
    except (OSError, ValueError):
        return MISSING, MISSING
    return st.st_size, st.st_mtime_ns


def stats_digest(stats: np.ndarray) -> str:
    """A short hash of a stats array (row order matters, as in the catalog)."""
    return hashlib.sha1(np.ascontiguousarray(stats, dtype=np.int64).tobytes()).hexdigest()[:16]
