"""Re-rankers by name: each re-scores a query's candidate neighbours using the catalog's own kNN graph.

A re-ranker sees the *database* (unit vectors and their self-kNN graph) and the *candidates* of some queries
(their unit vectors, their top neighbours in the database, and their own database row, or -1 for an image from
outside the catalog) and returns a new similarity for every candidate. Nothing is dense: the cost is
O(queries x candidates x neighbourhood) plus one pass over the graph.

``RERANKERS`` maps a name to a re-ranker class (a frozen dataclass whose fields are its settings);
``make_reranker("kreciprocal:k1=15")`` builds one from a spec, so a CLI flag or a config names any setting.

>>> rr = make_reranker("csls")                                  # doctest: +SKIP
>>> new = rerank(rr, Database(vectors, graph), catalog_candidates(graph, vectors))   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import numpy as np

from colorvariants.retrieval.choices import NO_RERANK, RERANKER_NAMES, RerankerName, add_to_registry
from colorvariants.retrieval.rerank.graph import NeighbourGraph

RERANKERS: dict[str, type[Reranker]] = {}

R = TypeVar("R", bound="type[Reranker]")


def register_reranker(cls: R) -> R:
    """Class decorator: file ``cls`` under ``cls.name`` in ``RERANKERS``."""
    reranker: type[Reranker] = cls
    add_to_registry(RERANKERS, cls.name, reranker, RERANKER_NAMES, "re-ranker")
    return cls


@dataclass(frozen=True)
class Database:
    """The catalog side: unit vectors (may be memory-mapped) and their self-kNN graph, best first."""

    vectors: np.ndarray
    graph: NeighbourGraph


@dataclass(frozen=True)
class Candidates:
    """Queries to re-rank: unit vectors, candidate neighbours in the database, own database row (-1: none)."""

    vectors: np.ndarray
    graph: NeighbourGraph
    own_rows: np.ndarray


def catalog_candidates(db: Database, width: int | None = None) -> Candidates:
    """Every database row as a query, its candidates the first ``width`` neighbours of the graph."""
    graph = db.graph if width is None else db.graph.head(width)
    return Candidates(db.vectors, graph, np.arange(db.graph.rows.shape[0]))


class Reranker(ABC):
    """A re-scoring of candidate neighbours; subclasses are frozen dataclasses of their settings."""

    name: ClassVar[RerankerName]
    summary: ClassVar[str]

    @property
    @abstractmethod
    def graph_k(self) -> int:
        """Neighbours per database row the re-ranker reads from the graph."""

    @abstractmethod
    def rescore(self, db: Database, q: Candidates) -> np.ndarray:
        """New similarity of each candidate (same shape as ``q.graph.rows``; higher = more similar)."""

    def spec(self) -> str:
        """``name:field=value,...`` that ``make_reranker`` turns back into this re-ranker."""
        fields = ",".join(f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self))  # type: ignore[arg-type]
        return f"{self.name}:{fields}" if fields else self.name


def make_reranker(spec: str | None) -> Reranker | None:
    """The re-ranker of ``name`` or ``name:key=value,...``; None for ``none``/empty.

    Raises:
        ValueError: an unknown name or setting, or a value of the wrong type (names the choices).

    >>> make_reranker("csls:k=5").k
    5
    """
    if spec is None or spec.strip() in ("", NO_RERANK):
        return None
    name, _, settings = spec.strip().partition(":")
    cls = RERANKERS.get(name)
    if cls is None:
        raise ValueError(f"unknown re-ranker {name!r}; choose from {[NO_RERANK, *sorted(RERANKERS)]}")
    types = {f.name: f.type for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, float | int] = {}
    for item in filter(None, (s.strip() for s in settings.split(","))):
        key, _, value = item.partition("=")
        if key not in types:
            raise ValueError(f"re-ranker {name!r} has no setting {key!r}; it has {sorted(types)}")
        try:
            kwargs[key] = int(value) if types[key] in (int, "int") else float(value)
        except ValueError:
            raise ValueError(f"re-ranker setting {key}={value!r} is not a number") from None
    return cls(**kwargs)


def rerank(reranker: Reranker, db: Database, q: Candidates) -> NeighbourGraph:
    """The candidates re-scored by ``reranker`` and re-sorted, best first (missing candidates stay last)."""
    sims = np.asarray(reranker.rescore(db, q), dtype=np.float32)
    sims = np.where(q.graph.rows >= 0, sims, -np.inf).astype(np.float32)
    return NeighbourGraph(q.graph.rows, sims).sorted()


def gather_dot(a: np.ndarray, b_rows: np.ndarray, b: np.ndarray, block: int = 4096) -> np.ndarray:
    """``a[i] . b[b_rows[i, j]]`` for every (i, j), in row blocks (-inf where ``b_rows`` is -1)."""
    out = np.full(b_rows.shape, -np.inf, dtype=np.float32)
    for start in range(0, a.shape[0], block):
        rows = b_rows[start : start + block]
        x = np.asarray(a[start : start + block], dtype=np.float32)
        y = np.asarray(b[np.where(rows >= 0, rows, 0).reshape(-1)], dtype=np.float32).reshape(*rows.shape, -1)
        out[start : start + block] = np.where(rows >= 0, np.einsum("qd,qkd->qk", x, y), -np.inf)
    return out
