"""Vector maths on ``(N, D)`` float32 rows in bounded memory: L2 normalisation and a scan for bad rows.

Both work chunk by chunk (``CHUNK_BYTES`` of float32 rows at a time), so a memory-mapped million-row array is
never loaded whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Bytes of float32 rows per chunk when scanning or normalising vectors (a few temporaries of this size exist at
# once): bounded by bytes, not rows, so 2048-d vectors cost no more memory than 128-d ones.
CHUNK_BYTES = 16 * 2**20
CHUNK_ROWS = 65_536  # at most this many rows per chunk


def chunk_rows_for(dim: int, max_rows: int = CHUNK_ROWS) -> int:
    """Rows per chunk so that one float32 chunk of ``dim``-d rows stays within ``CHUNK_BYTES``."""
    return max(1, min(max_rows, CHUNK_BYTES // (4 * max(dim, 1))))


# A row counts as L2-normalised when its norm is within this of 1 (float32 rounding of 2048-d sums is below).
NORM_TOLERANCE = 1e-3


def normalize_rows(
    x: np.ndarray, *, out: np.ndarray | None = None, chunk_rows: int = CHUNK_ROWS
) -> np.ndarray:
    """L2-normalise the rows of ``x`` into float32: a new array unless ``out`` is given (``out=x``: in place).

    Works chunk by chunk so a memory-mapped ``x`` is never loaded whole. Zero rows stay zero (their cosine
    with anything is 0); ``EmbeddingSet`` refuses them earlier with a message.
    """
    x = np.asarray(x) if not isinstance(x, np.memmap) else x
    if x.ndim != 2:
        raise ValueError(f"normalize_rows expects (N, D); got shape {x.shape}")
    if out is None:
        out = np.empty(x.shape, dtype=np.float32)
    elif out.shape != x.shape:
        raise ValueError(f"out has shape {out.shape}, x {x.shape}")
    chunk_rows = chunk_rows_for(x.shape[1], chunk_rows)
    for start in range(0, x.shape[0], chunk_rows):
        block = np.asarray(x[start : start + chunk_rows], dtype=np.float32)
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + chunk_rows] = block / np.where(norms > 0, norms, 1.0)
    return out


@dataclass(frozen=True)
class VectorCheck:
    """What a scan of the vectors found: NaN/inf rows, all-zero rows, and whether every row has norm 1."""

    nonfinite_rows: np.ndarray
    zero_rows: np.ndarray
    normalized: bool

    @property
    def ok(self) -> bool:
        return self.nonfinite_rows.size == 0 and self.zero_rows.size == 0


def check_vectors(vectors: np.ndarray, chunk_rows: int = CHUNK_ROWS) -> VectorCheck:
    """Scan vectors chunk by chunk for NaN/inf rows, zero rows and unit norm (bounded memory on memmaps)."""
    nonfinite: list[np.ndarray] = []
    zero: list[np.ndarray] = []
    normalized = True
    chunk_rows = chunk_rows_for(vectors.shape[1] if vectors.ndim == 2 else 1, chunk_rows)
    for start in range(0, vectors.shape[0], chunk_rows):
        block = np.asarray(vectors[start : start + chunk_rows], dtype=np.float32)
        finite = np.asarray(np.isfinite(block).all(axis=1))
        nonfinite.append(np.flatnonzero(~finite) + start)
        norms = np.linalg.norm(np.where(finite[:, None], block, 0.0), axis=1)
        zero.append(np.flatnonzero(finite & (norms == 0)) + start)
        if normalized and finite.all() and np.abs(norms - 1.0).max(initial=0.0) > NORM_TOLERANCE:
            normalized = False
    nf = np.concatenate(nonfinite) if nonfinite else np.zeros(0, dtype=np.int64)
    zr = np.concatenate(zero) if zero else np.zeros(0, dtype=np.int64)
    return VectorCheck(nf.astype(np.int64), zr.astype(np.int64), normalized and nf.size == 0 and zr.size == 0)
