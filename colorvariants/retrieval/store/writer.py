"""``EmbeddingWriter``: stream an embedding set larger than RAM to disk batch by batch, then finalise it."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd

from colorvariants.errors import EmbeddingError
from colorvariants.io import atomic_path, create_npy, process_temp_path
from colorvariants.retrieval.store.embedding_set import (
    EMBEDDINGS_FILE,
    IDS_FILE,
    META_FILE,
    EmbeddingSet,
    ids_for_disk,
    write_set_meta,
)
from colorvariants.retrieval.store.vectors import normalize_rows


class EmbeddingWriter:
    """Write an embedding set batch by batch into a memory-mapped file, then finalise it atomically.

    For exports larger than RAM: rows go straight to disk; ``close`` validates (NaN/inf, zero rows, every row
    written), normalises in place, renames the file into place and writes ``ids.parquet`` then ``meta.json``.
    Used as a context manager, an exception discards the partial file and leaves the folder as it was.

    >>> with EmbeddingWriter("E", count=len(ids), dim=128, ids=ids) as w:  # doctest: +SKIP
    ...     for start, batch in batches:
    ...         w.write(start, batch)
    """

    def __init__(
        self,
        directory: str | Path,
        count: int,
        dim: int,
        ids: pd.DataFrame,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if len(ids) != count:
            raise EmbeddingError(f"EmbeddingWriter: {len(ids)} id rows for count={count}.")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ids = ids.reset_index(drop=True)
        self.meta = dict(meta or {})
        # unique per process: two writers of one folder never share a temp file (the folder lock refuses the second)
        self._partial = process_temp_path(self.directory / f"{EMBEDDINGS_FILE}.partial", suffix=".npy")
        self._array: np.memmap | None = create_npy(self._partial, np.float32, (count, dim))
        self._written = np.zeros(count, dtype=bool)

    def write(self, start: int, batch: np.ndarray) -> None:
        """Write rows ``start .. start + len(batch)`` (any order, any batch size)."""
        if self._array is None:
            raise EmbeddingError("EmbeddingWriter: write after close.")
        batch = np.asarray(batch, dtype=np.float32)
        end = start + batch.shape[0]
        n, d = self._array.shape
        if start < 0 or end > n or batch.ndim != 2 or batch.shape[1] != d:
            raise EmbeddingError(
                f"EmbeddingWriter: batch {batch.shape} at row {start} does not fit {self._array.shape}."
            )
        self._array[start:end] = batch
        self._written[start:end] = True

    def close(self) -> EmbeddingSet:
        """Finalise: every row must have been written; returns the saved set (memory-mapped)."""
        if self._array is None:
            raise EmbeddingError("EmbeddingWriter: closed twice.")
        missing = np.flatnonzero(~self._written)
        if missing.size:
            self.abort()
            raise EmbeddingError(
                f"EmbeddingWriter: {missing.size} rows never written (first: {missing[:10].tolist()}).",
                fix="write every row before closing.",
            )
        es = EmbeddingSet(self._array, self.ids, self.meta)
        try:
            es.validate(source=self.directory)
        except EmbeddingError:
            self.abort()
            raise
        normalize_rows(self._array, out=self._array)
        self._array.flush()
        del es
        self._array = None
        with atomic_path(self.directory / EMBEDDINGS_FILE, suffix=".npy") as tmp_npy, \
                atomic_path(self.directory / IDS_FILE, suffix=".parquet") as tmp_ids:
            ids_for_disk(self.ids).to_parquet(tmp_ids, index=False)
            (self.directory / META_FILE).unlink(missing_ok=True)
            self._partial.replace(tmp_npy)
        count = int(self._written.size)
        dim = int(np.load(self.directory / EMBEDDINGS_FILE, mmap_mode="r").shape[1])
        write_set_meta(self.directory, dim, count, self.meta)
        out = EmbeddingSet.load(self.directory, check=False)
        out.checked = True  # validated above, before normalising
        return out

    def abort(self) -> None:
        """Discard the partial file; the folder keeps whatever finished set it held before."""
        self._array = None
        self._partial.unlink(missing_ok=True)

    def __enter__(self) -> EmbeddingWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif self._array is not None:
            self.close()
