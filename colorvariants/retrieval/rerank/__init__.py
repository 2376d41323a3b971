"""Neighbourhood-calibrated similarity on the sparse kNN graph: CSLS, k-reciprocal, query expansion and DBA.

Importing the package registers every re-ranker in ``RERANKERS`` (one module each).
"""

from __future__ import annotations

from colorvariants.retrieval.rerank import csls, expansion, kreciprocal  # noqa: F401  (register)
from colorvariants.retrieval.rerank.base import (
    NO_RERANK,
    RERANKERS,
    Candidates,
    Database,
    Reranker,
    catalog_candidates,
    make_reranker,
    rerank,
)
from colorvariants.retrieval.rerank.graph import NeighbourGraph, knn_graph

__all__ = [
    "NO_RERANK", "RERANKERS", "Candidates", "Database", "NeighbourGraph", "Reranker", "catalog_candidates",
    "knn_graph", "make_reranker", "rerank",
]
