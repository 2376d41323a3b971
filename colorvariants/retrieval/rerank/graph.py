"""The sparse kNN graph every re-ranker works on: each row's ``k`` nearest rows by cosine, self excluded.

Stored as two ``(N, k)`` arrays (rows, similarities), best first; a missing neighbour is row -1 with similarity
-inf. Memory is 12·N·k bytes (120 MB for 1M x 10); it is never an N x N matrix.

>>> g = knn_graph(unit_vectors, k=20)        # doctest: +SKIP
>>> g.rows.shape, g.sims[:, 0].mean()       # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from colorvariants.retrieval.index.base import Search, drop_self, iter_unit_batches, with_offsets

# Queries per FAISS search call when the graph is built: bounds the (batch x k) result block.
GRAPH_BATCH_ROWS = 16_384


@dataclass(frozen=True)
class NeighbourGraph:
    """Each row's neighbours (``rows``, -1 = none) and their similarities (``sims``), best first."""

    rows: np.ndarray
    sims: np.ndarray

    @property
    def k(self) -> int:
        return int(self.rows.shape[1])

    def head(self, k: int) -> NeighbourGraph:
        """The first ``k`` neighbours of each row."""
        return NeighbourGraph(self.rows[:, :k], self.sims[:, :k])

    def sorted(self) -> NeighbourGraph:
        """Each row's neighbours re-sorted by similarity, best first (stable: ties keep their order)."""
        order = np.argsort(-self.sims, axis=1, kind="stable")
        return NeighbourGraph(np.take_along_axis(self.rows, order, 1), np.take_along_axis(self.sims, order, 1))

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Directed edges ``src, dst, sim`` as flat arrays, missing neighbours dropped."""
        ok = self.rows >= 0
        src = np.broadcast_to(np.arange(self.rows.shape[0])[:, None], self.rows.shape)
        return src[ok].astype(np.int64), self.rows[ok].astype(np.int64), self.sims[ok].astype(np.float32)


def knn_graph(
    vectors: np.ndarray, k: int, *, search: Search | None = None, batch_rows: int = GRAPH_BATCH_ROWS
) -> NeighbourGraph:
    """The ``k``-NN graph of unit ``vectors`` (self excluded), searched batch by batch.

    Args:
        search: an approximate index's search; default an exact flat inner-product index over ``vectors``.
    """
    n = vectors.shape[0]
    k = min(k, n - 1)
    if k < 1:
        return NeighbourGraph(np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32))
    if search is None:
        flat = faiss.IndexFlatIP(vectors.shape[1])
        for block in iter_unit_batches(vectors, normalized=True):
            flat.add(block)
        search = flat.search
    rows = np.empty((n, k), np.int64)
    sims = np.empty((n, k), np.float32)
    for start, block in with_offsets(iter_unit_batches(vectors, batch_rows, normalized=True)):
        d, i = search(block, k + 1)
        stop = start + block.shape[0]
        sims[start:stop], rows[start:stop] = drop_self(
            np.asarray(d, np.float32), np.asarray(i, np.int64), np.arange(start, stop), k
        )
    sims[rows < 0] = -np.inf
    return NeighbourGraph(rows, sims)
