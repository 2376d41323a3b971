"""Build an index from an embedding set (any kind, or ``auto``), report its fidelity, and append new products.

>>> es = EmbeddingSet.load("runs/x/embeddings")                          # doctest: +SKIP
>>> bundle = build_index(es, kind="auto", memory_budget="4GB")            # doctest: +SKIP
>>> bundle.meta["kind"], bundle.meta["fidelity"]["recall@10"]             # doctest: +SKIP
('hnsw', 0.97)
>>> bundle.save("runs/x/index")                                           # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import faiss
import numpy as np
import pandas as pd

from colorvariants.errors import EmbeddingError, IndexFileError
from colorvariants.retrieval.choices import IndexChoice
from colorvariants.retrieval.index.auto import (
    DEFAULT_RULE,
    AutoRule,
    choose_kind,
    parse_memory,
    tune_and_measure,
)
from colorvariants.retrieval.index.base import (
    INDEX_KINDS,
    IndexKind,
    add_in_batches,
    describe,
    iter_unit_batches,
    to_cpu,
    to_gpu,
    use_gpu_for,
    with_offsets,
)
from colorvariants.retrieval.index.io import IndexBundle
from colorvariants.retrieval.store import STRING_ID_COLUMNS, EmbeddingSet, normalize_rows

log = logging.getLogger(__name__)

# Embedding metadata carried into the index's meta.json (which model produced the vectors).
CARRIED_META = ("method", "checkpoint", "backbone", "image_size", "config")


def training_rows(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Sorted random rows to train IVF/PQ quantisers on; the same (n, size, seed) always gives the same rows.

    Whether the collection is one set or shards, so a sharded build trains exactly like a single one.
    """
    size = min(size, n)
    if size >= n:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False)).astype(np.int64)


def build_index(
    embedding_set: EmbeddingSet,
    kind: IndexChoice = "auto",
    memory_budget: int | str | None = None,
    target_recall: float = 0.95,
    *,
    params: Mapping[str, int] | None = None,
    fidelity_queries: int = 1000,
    seed: int = 0,
    use_gpu: bool | None = None,
    rule: AutoRule = DEFAULT_RULE,
) -> IndexBundle:
    """Build a cosine index over ``embedding_set``, tune its search knob and measure its fidelity.

    Args:
        embedding_set: the vectors and ids (a memory-mapped set is read batch by batch).
        kind: ``auto`` or a name in ``INDEX_KINDS`` (``flat``, ``ivf``, ``hnsw``, ``ivfpq``).
        memory_budget: bytes or text like ``"4GB"``; steers ``auto`` and the IVF-PQ code size (default: half
            the available RAM).
        target_recall: recall@10 against exact search that tuning aims for (``nprobe``/``efSearch``).
        params: override build parameters (``nlist``, ``M``, ``m``, ``nbits``, ``efConstruction``).
        fidelity_queries: size of each query sample (tuning, then a disjoint one for the reported fidelity).
        seed: drives the training and query samples.
        use_gpu: None = use GPU faiss when ``faiss.get_num_gpus() > 0``; the saved index is always CPU.

    Returns:
        An ``IndexBundle`` whose ``meta`` holds kind, params, search_params, fidelity, build_seconds, reason.

    Raises:
        EmbeddingError: the set is empty. IndexFileError: nothing fits the memory budget (auto).
        ValueError: unknown kind.
    """
    n, d = embedding_set.count, embedding_set.dim
    if n == 0:
        raise EmbeddingError(
            "the embedding set is empty: nothing to index.",
            fix="embed at least one image.",
        )
    embedding_set.ensure_valid()  # a NaN row would be indexed and returned as a neighbour of nothing
    budget = parse_memory(memory_budget) if memory_budget is not None else None
    if kind == "auto":
        choice = choose_kind(n, d, budget, rule)
        kind_obj, build_params, reason = INDEX_KINDS[choice.kind], dict(choice.params), choice.reason
    elif kind in INDEX_KINDS:
        kind_obj = INDEX_KINDS[kind]
        build_params, reason = kind_obj.default_params(n, d, budget), "asked for"
    else:
        raise ValueError(f"unknown index kind {kind!r}; choose auto or one of {sorted(INDEX_KINDS)}")
    build_params.update({k: int(v) for k, v in (params or {}).items()})
    vectors = embedding_set.vectors
    normalized = embedding_set.normalized

    t0 = time.perf_counter()
    index, on_gpu = create_trained(
        kind_obj, d, build_params, lambda rows: _rows(vectors, rows, normalized), n, seed, use_gpu
    )
    add_in_batches(index, vectors, normalized=normalized)
    index = to_cpu(index)
    build_seconds = time.perf_counter() - t0

    t1 = time.perf_counter()
    fidelity = tune_and_measure(
        index, kind_obj, build_params,
        base_batches=lambda: with_offsets(iter_unit_batches(vectors, normalized=normalized)),
        sample=lambda rows: _rows(vectors, rows, normalized),
        n=n, target_recall=target_recall, n_queries=fidelity_queries, seed=seed + 1,
    )
    meta: dict[str, Any] = {
        "kind": kind_obj.name,
        "params": build_params,
        "factory": kind_obj.factory_string(build_params),
        "search_params": fidelity.search_params,
        "fidelity": fidelity.as_meta(),
        "reason": reason,
        "memory_bytes_estimate": kind_obj.memory_bytes(n, d, build_params),
        "memory_budget": budget,
        "build_seconds": round(build_seconds, 3),
        "tune_seconds": round(time.perf_counter() - t1, 3),
        "gpu": on_gpu,
        "embeddings": {k: embedding_set.meta[k] for k in CARRIED_META if k in embedding_set.meta},
    }
    log.info(
        "built %s index (%s) over %d vectors in %.1fs",
        kind_obj.name, describe(build_params), n, build_seconds,
    )
    return IndexBundle(index, embedding_set.ids.copy(), meta)


def add(bundle: IndexBundle, new_embeddings: EmbeddingSet, *, allow_duplicates: bool = False) -> IndexBundle:
    """Append new products to a built index: vectors added in order, their ids appended after the old ones.

    The index is modified in place and returned; save it again to persist (each file is rewritten atomically).
    Fidelity in ``meta`` still describes the build; ``meta["added"]`` records each append.

    Raises:
        IndexFileError: the dims differ. EmbeddingError: image paths already in the index (unless allowed).
    """
    new_embeddings.ensure_valid()
    if new_embeddings.dim != bundle.dim:
        raise IndexFileError(
            f"the index holds {bundle.dim}-d vectors but the new embeddings are {new_embeddings.dim}-d "
            "(another model?).",
            fix="embed the new products with the model that built the index, or rebuild it.",
        )
    if (
        not allow_duplicates
        and "image_path" in bundle.ids.columns
        and "image_path" in new_embeddings.ids.columns
    ):
        dup = new_embeddings.ids["image_path"].astype(str).isin(set(bundle.ids["image_path"].astype(str)))
        if dup.any():
            shown = new_embeddings.ids.loc[dup, "image_path"].head(5).tolist()
            raise EmbeddingError(
                f"{int(dup.sum())} of the new images are already in the index (e.g. {shown}).",
                fix="pass only new products, or rebuild the index from the full embedding set.",
            )
    add_in_batches(bundle.index, new_embeddings.vectors, normalized=new_embeddings.normalized)
    ids = pd.concat([bundle.ids, new_embeddings.ids], ignore_index=True)
    for col in STRING_ID_COLUMNS:
        if col in ids.columns:
            ids[col] = ids[col].fillna("")
    bundle.ids = ids
    bundle.meta["count"] = bundle.count
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    bundle.meta.setdefault("added", []).append({"count": new_embeddings.count, "at": stamp})
    return bundle


def create_trained(
    kind: IndexKind,
    d: int,
    params: Mapping[str, int],
    sample: Callable[[np.ndarray], np.ndarray],
    n: int,
    seed: int,
    use_gpu: bool | None,
) -> tuple[faiss.Index, bool]:
    """Create the empty index (on GPU when possible); train it on a random sample if the kind needs it."""
    index = kind.create(d, params)
    on_gpu = False
    if use_gpu_for(kind, use_gpu):
        gpu_index = to_gpu(index)
        on_gpu = gpu_index is not index
        index = gpu_index
    size = kind.training_size(n, params)
    if size > 0 and not index.is_trained:
        index.train(np.ascontiguousarray(sample(training_rows(n, size, seed))))
    return index, on_gpu


def _rows(vectors: np.ndarray, rows: np.ndarray, normalized: bool) -> np.ndarray:
    block = np.asarray(vectors[np.asarray(rows, dtype=np.int64)], dtype=np.float32)
    return block if normalized else normalize_rows(block)
