"""``csls``: cross-domain similarity local scaling (Conneau et al., ICLR 2018, "Word translation without
parallel data"): ``2·cos(q, x) - r(q) - r(x)``, r = mean cosine of a point's ``k`` nearest neighbours.

A pair in a dense neighbourhood (near-identical sibling designs) needs more cosine than a pair in a sparse one, so
one threshold means the same thing everywhere. Cost: one mean per row of the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colorvariants.retrieval.rerank.base import Candidates, Database, Reranker, register_reranker


def neighbourhood_radius(sims: np.ndarray, k: int) -> np.ndarray:
    """Mean similarity of each row's first ``k`` neighbours (missing ones ignored; 0 with none)."""
    head = sims[:, :k]
    ok = np.isfinite(head)
    total = np.where(ok, head, 0.0).sum(axis=1)
    return (total / np.maximum(ok.sum(axis=1), 1)).astype(np.float32)


@register_reranker
@dataclass(frozen=True)
class CSLS(Reranker):
    """Local scaling over ``k`` neighbours (10 in the paper)."""

    k: int = 10
    name = "csls"
    summary = "2·cos − mean cos of each side's k nearest neighbours (Conneau et al. 2018)"

    @property
    def graph_k(self) -> int:
        return self.k

    def rescore(self, db: Database, q: Candidates) -> np.ndarray:
        r_db = neighbourhood_radius(db.graph.sims, self.k)
        r_q = neighbourhood_radius(q.graph.sims, self.k)
        safe = np.where(q.graph.rows >= 0, q.graph.rows, 0)
        return 2.0 * q.graph.sims - r_q[:, None] - r_db[safe]

