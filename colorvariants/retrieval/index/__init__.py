"""FAISS indexes over embedding sets: a registry of kinds (flat, ivf, hnsw, ivfpq), ``auto``, build/add, I/O.

Importing this package registers every kind (one module each) in ``INDEX_KINDS``.
"""

from __future__ import annotations

from colorvariants.retrieval.index import flat, hnsw, ivf, ivfpq  # noqa: F401  (register the kinds)
from colorvariants.retrieval.index.auto import AutoChoice, AutoRule, Fidelity, choose_kind, parse_memory
from colorvariants.retrieval.index.base import INDEX_KINDS, IndexKind, gpu_count, register_index_kind
from colorvariants.retrieval.index.build import add, build_index
from colorvariants.retrieval.index.io import IndexBundle, load_index
from colorvariants.retrieval.index.sharded import build_sharded_ivfpq

__all__ = [
    "INDEX_KINDS",
    "AutoChoice",
    "AutoRule",
    "Fidelity",
    "IndexBundle",
    "IndexKind",
    "add",
    "build_index",
    "build_sharded_ivfpq",
    "choose_kind",
    "gpu_count",
    "load_index",
    "parse_memory",
    "register_index_kind",
]
