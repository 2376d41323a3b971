"""The image cache build's lock and its progress journal (``progress.log``), so a crash loses one chunk at most.

The journal holds one JSON line per finished chunk: the rows decoded and the rows skipped with their problems.
A line is appended and fsynced only after the chunk's pixels are flushed, so the journal never runs ahead of
the data; a torn last line (a crash mid-append) is ignored on replay.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from colorvariants.data.cache.layout import LOCK_FILE
from colorvariants.data.problems import Problem

Chunk = tuple[list[int], list[tuple[int, Problem]]]
"""One journal record: the rows decoded, and the rows skipped with their problem."""


@contextlib.contextmanager
def build_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on the folder, so DDP ranks (or two runs) never write the same cache at once."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one process per cache is the user's responsibility
        yield
        return
    with open(directory / LOCK_FILE, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class ProgressJournal:
    """``progress.log`` of one cache folder: append finished chunks, replay them after a crash."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def replay(self, count: int) -> Iterator[Chunk]:
        """The recorded chunks in order; unreadable lines and rows outside ``0..count-1`` are skipped."""
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                    ok = [int(i) for i in record["ok"]]
                    skipped = [(int(i), Problem(**p)) for i, p in record["skipped"]]
                except (ValueError, KeyError, TypeError):
                    continue
                if any(not 0 <= i < count for i in ok) or any(not 0 <= i < count for i, _ in skipped):
                    continue
                yield ok, skipped

    def append(self, ok: list[int], skipped: list[tuple[int, Problem]]) -> None:
        """Record a chunk durably (fsynced); call it only once the chunk's pixels are flushed."""
        line = json.dumps({"ok": ok, "skipped": [[i, p.to_dict()] for i, p in skipped]})
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def clear(self) -> None:
        """Forget every record (the arrays were recreated, so no row is done)."""
        self.path.unlink(missing_ok=True)
