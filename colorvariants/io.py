"""Atomic file writing: every file the tool writes appears whole or not at all (temp file, fsync, rename)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from colorvariants.errors import ColorVariantsError


class DiskFullError(ColorVariantsError):
    """The disk filled up while writing; the destination was left untouched."""


@contextlib.contextmanager
def atomic_path(dest: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success fsync it and rename it over ``dest``.

    On any error the temporary file is removed and ``dest`` keeps its old content (or stays absent).
    ``suffix`` keeps an extension for writers that insist on one (``np.save``, FAISS).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=(suffix or ".tmp"), dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(
                f"{dest}: no space left on device while writing; nothing was overwritten. "
                "Fix: free disk space or choose another --out, then rerun (finished work is kept)."
            ) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(dest: str | Path, mode: str = "wb") -> Iterator[BinaryIO]:
    """Open a temporary file for writing that replaces ``dest`` only when the block ends without error."""
    with atomic_path(dest) as tmp, open(tmp, mode) as fh:
        yield fh  # type: ignore[misc]


def write_json(dest: str | Path, obj: Any) -> None:
    """Write JSON atomically (sorted keys off: order is the reader's order)."""
    with atomic_open(dest, "w") as fh:
        json.dump(obj, fh, indent=2, default=_json_default)
        fh.write("\n")


def write_text(dest: str | Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_open(dest, "w") as fh:
        fh.write(text)


def save_npy(dest: str | Path, array: np.ndarray) -> None:
    """Save a ``.npy`` atomically."""
    with atomic_path(dest, suffix=".npy") as tmp:
        np.save(tmp, array)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
