"""The index-kind registry and what every kind shares: cosine as inner product, batched add/search, GPU use.

A kind is a small class registered by name with ``@register_index_kind``; ``INDEX_KINDS`` maps each name to an
instance. Code picks a kind by looking it up, never with an if-chain, so adding a kind is one new file.

Cosine similarity is the inner product of L2-normalised vectors: every kind is built with
``METRIC_INNER_PRODUCT`` and every vector (base and query) is normalised on its way in.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import faiss
import numpy as np

from colorvariants.retrieval.choices import INDEX_KIND_NAMES, IndexKindName, add_to_registry
from colorvariants.retrieval.store import normalize_rows

log = logging.getLogger(__name__)

INDEX_KINDS: dict[str, IndexKind] = {}
# Rows per add/search batch: bounds the temporary normalised copy (65536 x 512-d float32 = 128 MB).
BATCH_ROWS = 65_536

K = TypeVar("K", bound="type[IndexKind]")
# A fresh iterator of ``(offset, unit row block)`` over a whole collection on each call (see ``with_offsets``).
BaseBatches = Callable[[], Iterator[tuple[int, np.ndarray]]]
# search(block of unit queries, depth) -> (sims, rows), as IndexBundle.search or a faiss index's search.
Search = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def register_index_kind(cls: K) -> K:
    """Class decorator: instantiate the kind and file it under ``cls.name`` in ``INDEX_KINDS``."""
    add_to_registry(INDEX_KINDS, cls.name, cls(), INDEX_KIND_NAMES, "index kind")
    return cls


class IndexKind(ABC):
    """How to build, size and tune one kind of FAISS index.

    Class attributes:
        name: the registry key (``flat``, ``ivf``, ``hnsw``, ``ivfpq``).
        search_param: the speed/recall knob tuned after building (``nprobe``, ``efSearch``), or None (exact).
        gpu_capable: whether faiss can train/add it on a GPU (HNSW cannot).
    """

    name: ClassVar[IndexKindName]
    search_param: ClassVar[str | None] = None
    gpu_capable: ClassVar[bool] = False

    @abstractmethod
    def default_params(self, n: int, d: int, memory_budget: int | None = None) -> dict[str, int]:
        """Build parameters for ``n`` vectors of dimension ``d`` (and, where it matters, a memory budget)."""

    @abstractmethod
    def memory_bytes(self, n: int, d: int, params: Mapping[str, int]) -> int:
        """Estimated resident size of the built index in bytes (vectors/codes + ids + graph/centroids)."""

    @abstractmethod
    def factory_string(self, params: Mapping[str, int]) -> str:
        """The ``faiss.index_factory`` description of the index."""

    def training_size(self, n: int, params: Mapping[str, int]) -> int:
        """How many vectors training needs (0: the kind needs no training)."""
        return 0

    def search_values(self, params: Mapping[str, int]) -> list[int]:
        """Ascending values of ``search_param`` tried by tuning (fastest first)."""
        return []

    def infer_params(self, index: faiss.Index) -> dict[str, int]:
        """Build parameters read back from a built index (for bundles whose meta lacks them)."""
        return {}

    def apply_search_params(self, index: faiss.Index, search_params: Mapping[str, int]) -> None:
        """Set search-time parameters (``nprobe``/``efSearch``) on a built CPU index."""
        if self.search_param is not None and self.search_param in search_params:
            value = int(search_params[self.search_param])
            faiss.ParameterSpace().set_index_parameter(index, self.search_param, value)

    def create(self, d: int, params: Mapping[str, int]) -> faiss.Index:
        """An empty (untrained) CPU index.

        A kind with construction-time settings the factory string cannot express (e.g. efConstruction)
        extends this, setting them on the created index.
        """
        return faiss.index_factory(d, self.factory_string(params), faiss.METRIC_INNER_PRODUCT)


def gpu_count() -> int:
    """Number of GPUs faiss can use (0 on faiss-cpu, or when the GPU runtime fails)."""
    try:
        return int(faiss.get_num_gpus())
    except Exception:  # faiss-cpu builds without the symbol, or a broken CUDA runtime
        return 0


def use_gpu_for(kind: IndexKind, use_gpu: bool | None) -> bool:
    """Whether to train/add ``kind`` on GPU: asked for (or auto) and possible."""
    wanted = gpu_count() > 0 if use_gpu is None else use_gpu
    return bool(wanted and kind.gpu_capable and gpu_count() > 0)


def to_gpu(index: faiss.Index) -> faiss.Index:
    """Clone a CPU index onto all GPUs; returns the CPU index unchanged when that fails (logged)."""
    try:
        return faiss.index_cpu_to_all_gpus(index)
    except Exception as exc:  # unsupported parameters on GPU (e.g. PQ sub-quantizer sizes), out of memory
        log.warning("faiss GPU clone failed (%s); building on CPU", exc)
        return index


def to_cpu(index: faiss.Index) -> faiss.Index:
    """The CPU version of an index (identity for CPU indexes)."""
    if type(index).__name__.startswith("Gpu") or "IndexReplicas" in type(index).__name__:
        return faiss.index_gpu_to_cpu(index)
    return index


def iter_unit_batches(
    vectors: np.ndarray, batch_rows: int = BATCH_ROWS, normalized: bool = False
) -> Iterator[np.ndarray]:
    """Yield contiguous float32 L2-normalised row batches of ``vectors`` (a memmap is read batch by batch)."""
    for start in range(0, vectors.shape[0], batch_rows):
        block = np.ascontiguousarray(vectors[start : start + batch_rows], dtype=np.float32)
        yield block if normalized else normalize_rows(block)


def with_offsets(blocks: Iterable[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, block)`` for consecutive row blocks: each block's offset counts the rows before it.

    >>> [(o, b.shape[0]) for o, b in with_offsets(iter_unit_batches(np.ones((5, 2)), batch_rows=2))]
    [(0, 2), (2, 2), (4, 1)]
    """
    offset = 0
    for block in blocks:
        yield offset, block
        offset += block.shape[0]


def drop_self(
    sims: np.ndarray, rows: np.ndarray, query_rows: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Drop each query's own row from its ``k + 1`` neighbours (the last neighbour where it is absent).

    Args:
        sims, rows: ``(Q, k + 1)`` similarities and neighbour rows, best first.
        query_rows: ``(Q,)`` the row of each query in the searched collection.

    Returns:
        ``(sims, rows)``, both ``(Q, k)``.
    """
    is_self = rows == query_rows[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    return sims[~is_self].reshape(-1, k), rows[~is_self].reshape(-1, k)


def add_in_batches(index: faiss.Index, vectors: np.ndarray, normalized: bool = False) -> None:
    """Add all rows to ``index`` batch by batch (normalising each batch unless ``normalized``)."""
    for block in iter_unit_batches(vectors, normalized=normalized):
        index.add(block)


def search_in_batches(
    index: faiss.Index,
    queries: np.ndarray,
    k: int,
    batch_rows: int = 16_384,
    normalized: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` inner-product search of every query row, batch by batch: ``(sims, rows)``, both ``(Q, k)``.

    Missing neighbours (an approximate index found fewer than k) have row -1 and similarity -inf.
    """
    nq = queries.shape[0]
    sims = np.empty((nq, k), dtype=np.float32)
    rows = np.empty((nq, k), dtype=np.int64)
    for start, block in with_offsets(iter_unit_batches(queries, batch_rows, normalized)):
        d, i = index.search(block, k)
        sims[start : start + block.shape[0]] = d
        rows[start : start + block.shape[0]] = i
        if progress is not None:
            progress(start + block.shape[0], nq)
    sims[rows < 0] = -np.inf
    return sims, rows


def exact_knn(
    base_batches: BaseBatches,
    queries: np.ndarray,
    k: int,
    use_gpu: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner products of normalised ``queries`` over a base in ``(offset, batch)`` chunks.

    The base is never in memory at once (shards, memmaps): the results of each chunk are merged in a heap.
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    heap = faiss.ResultHeap(queries.shape[0], k, keep_max=True)
    gpu = (gpu_count() > 0) if use_gpu is None else use_gpu and gpu_count() > 0
    for offset, batch in base_batches():
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        kk = min(k, batch.shape[0])
        if gpu:
            d, i = _gpu_knn(queries, batch, kk)
        else:
            d, i = faiss.knn(queries, batch, kk, metric=faiss.METRIC_INNER_PRODUCT)
        heap.add_result(d, np.where(i >= 0, i + offset, -1))
    heap.finalize()
    return heap.D, heap.I


def _gpu_knn(queries: np.ndarray, base: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    res = faiss.StandardGpuResources()
    return faiss.knn_gpu(res, queries, base, k, metric=faiss.METRIC_INNER_PRODUCT)


def describe(params: Mapping[str, Any]) -> str:
    """``a=1, b=2`` for messages."""
    return ", ".join(f"{k}={v}" for k, v in params.items())
