"""Query expansion and database-side augmentation (Radenović et al., TPAMI 2018, "Fine-tuning CNN image
retrieval with no human annotation", section 5): replace a vector by the normalised weighted sum of itself and
its ``n`` nearest neighbours, weight ``max(cos, 0)^alpha`` (alpha 0: average QE; alpha 3: alpha-QE).

- ``qe``: only the query is expanded; candidates are re-scored against the plain database vectors.
- ``dba``: the database vectors are augmented the same way (and the query with them), so every catalog image
  stands for its neighbourhood: the usual pairing of DBA with alpha-QE.

Cost: one gather of ``n`` neighbour vectors per row (O(N·n·D)) and a dot product per candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colorvariants.retrieval.rerank.base import Candidates, Database, Reranker, gather_dot, register_reranker
from colorvariants.retrieval.store import normalize_rows

_BLOCK = 8192


def expand(vectors: np.ndarray, graph_rows: np.ndarray, graph_sims: np.ndarray, base: np.ndarray, n: int,
           alpha: float) -> np.ndarray:
    """Unit ``vectors[i] + sum_j max(sim_ij, 0)^alpha · base[rows_ij]`` over each row's first ``n`` neighbours."""
    out = np.empty((vectors.shape[0], base.shape[1]), dtype=np.float32)
    for start in range(0, vectors.shape[0], _BLOCK):
        rows = graph_rows[start : start + _BLOCK, :n]
        w = np.maximum(graph_sims[start : start + _BLOCK, :n], 0.0) ** alpha
        w = np.where(rows >= 0, w, 0.0).astype(np.float32)
        nbrs = np.asarray(base[np.where(rows >= 0, rows, 0).reshape(-1)], np.float32).reshape(*rows.shape, -1)
        acc = np.asarray(vectors[start : start + _BLOCK], np.float32) + np.einsum("qk,qkd->qd", w, nbrs)
        out[start : start + _BLOCK] = normalize_rows(acc)
    return out


@dataclass(frozen=True)
class _Expansion(Reranker):
    """Shared settings: neighbours summed (``n``) and the weight exponent (``alpha``)."""

    n: int = 1
    alpha: float = 0.0

    @property
    def graph_k(self) -> int:
        return self.n

    def _queries(self, q: Candidates, base: np.ndarray) -> np.ndarray:
        return expand(q.vectors, q.graph.rows, q.graph.sims, base, self.n, self.alpha)


@register_reranker
@dataclass(frozen=True)
class QueryExpansion(_Expansion):
    """Average (alpha 0) or alpha query expansion over the query's ``n`` nearest catalog images."""

    n: int = 2
    alpha: float = 0.0
    name = "qe"
    summary = "query expansion: the query averaged with its n nearest catalog images (weights cos^alpha)"

    def rescore(self, db: Database, q: Candidates) -> np.ndarray:
        return gather_dot(self._queries(q, db.vectors), q.graph.rows, db.vectors)


@register_reranker
@dataclass(frozen=True)
class DatabaseAugmentation(_Expansion):
    """Database-side augmentation: every catalog vector (and the query) averaged with its ``n`` neighbours."""

    n: int = 1
    alpha: float = 0.0
    name = "dba"
    summary = "database-side augmentation: every vector averaged with its n nearest (weights cos^alpha)"

    def rescore(self, db: Database, q: Candidates) -> np.ndarray:
        g = db.graph
        augmented = expand(db.vectors, g.rows, g.sims, db.vectors, self.n, self.alpha)
        own = q.own_rows
        queries = self._queries(q, db.vectors)
        inside = own >= 0  # catalog images are their own augmented vectors
        queries[inside] = augmented[own[inside]]
        return gather_dot(queries, q.graph.rows, augmented)
