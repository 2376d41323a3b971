"""Build an IVF-PQ index over embedding shards that together exceed one machine's memory.

Recipe (faiss wiki, "Indexing 1G vectors"): train the coarse quantiser and PQ codebooks once on a random
sample drawn across all shards; give each shard a copy of the trained empty index and add that shard's vectors
to it (shards are independent: separate processes, or separate machines sharing ``trained.faiss``); then merge
the shard indexes' inverted lists into one with ``faiss.merge_into``. Only compressed codes are ever held in
memory, plus one batch of raw vectors per worker. With ``shift_ids`` the merged row ids continue across shards
in shard order, so row r of the result is row r of the concatenated shard id tables, as in a single build.

Serving shards on separate machines instead of merging is the same first two steps followed by
``faiss.IndexShards``; the merged file is simpler to ship when it fits one server's RAM (codes are 16-64x
smaller than the vectors).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pandas as pd

from colorvariants.errors import EmbeddingError
from colorvariants.retrieval.index.auto import parse_memory, tune_and_measure
from colorvariants.retrieval.index.base import (
    INDEX_KINDS,
    add_in_batches,
    iter_unit_batches,
    to_cpu,
    with_offsets,
)
from colorvariants.retrieval.index.build import CARRIED_META, create_trained
from colorvariants.retrieval.index.io import IndexBundle
from colorvariants.retrieval.store import STRING_ID_COLUMNS, EmbeddingSet, normalize_rows

log = logging.getLogger(__name__)


def build_sharded_ivfpq(
    shard_paths: Sequence[str | Path],
    out_dir: str | Path | None = None,
    *,
    params: Mapping[str, int] | None = None,
    memory_budget: int | str | None = None,
    target_recall: float = 0.95,
    workers: int = 1,
    fidelity_queries: int = 1000,
    seed: int = 0,
    use_gpu: bool | None = None,
    work_dir: str | Path | None = None,
) -> IndexBundle:
    """Train IVF-PQ on a sample across shards, fill one index per shard (``workers`` processes), merge them.

    Args:
        shard_paths: embedding-set folders, in the order their rows should take in the index.
        out_dir: when given, the merged bundle is saved there (atomically, meta last).
        params: override ``nlist``/``m``/``nbits`` (defaults from the total count and ``memory_budget``).
        workers: processes filling shard indexes in parallel (each uses cores/workers OpenMP threads).
        work_dir: where the trained and per-shard indexes are written (default: a temporary folder, removed).

    Returns:
        The merged ``IndexBundle`` (kind ``ivfpq``), tuned to ``target_recall`` with fidelity measured against
        exact search computed shard by shard.

    Raises:
        EmbeddingError: no shards, shards of different dims, or a shard that fails validation.
    """
    if not shard_paths:
        raise EmbeddingError(
            "no shards given.",
            fix="pass the embedding-set folders of the shards.",
        )
    shards = [EmbeddingSet.load(p, mmap=True, check=True) for p in shard_paths]
    dims = {s.dim for s in shards}
    if len(dims) != 1:
        raise EmbeddingError(f"shards have different dims {sorted(dims)}: they come from different models.")
    d = dims.pop()
    counts = np.array([s.count for s in shards], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    n = int(offsets[-1])
    if n == 0:
        raise EmbeddingError(
            "the shards hold no vectors.",
            fix="embed at least one image.",
        )
    kind = INDEX_KINDS["ivfpq"]
    budget = parse_memory(memory_budget) if memory_budget is not None else None
    build_params = kind.default_params(n, d, budget)
    build_params["refine"] = 0  # merge_into joins bare IVF-PQ inverted lists; a refine stage cannot be merged
    build_params.update({k: int(v) for k, v in (params or {}).items()})

    def sample(rows: np.ndarray) -> np.ndarray:
        owner = np.searchsorted(offsets, rows, side="right") - 1
        out = np.empty((rows.size, d), dtype=np.float32)
        for s in np.unique(owner):
            pick = owner == s
            local = rows[pick] - offsets[s]
            block = np.asarray(shards[s].vectors[local], dtype=np.float32)
            out[pick] = block if shards[s].normalized else normalize_rows(block)
        return out

    own_tmp = work_dir is None
    work = Path(tempfile.mkdtemp(prefix="cv-shards-") if work_dir is None else work_dir)
    work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        trained, on_gpu = create_trained(kind, d, build_params, sample, n, seed, use_gpu)
        trained = to_cpu(trained)
        trained_path = work / "trained.faiss"
        faiss.write_index(trained, str(trained_path))
        train_seconds = time.perf_counter() - t0

        jobs = [
            (str(trained_path), str(p), str(work / f"shard_{i:05d}.faiss")) for i, p in enumerate(shard_paths)
        ]
        t1 = time.perf_counter()
        if workers > 1 and len(jobs) > 1:
            threads = max(1, (os.cpu_count() or 1) // workers)
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                added = list(pool.map(_fill_shard, *zip(*jobs, strict=True), [threads] * len(jobs)))
        else:
            added = [_fill_shard(*job) for job in jobs]
        if added != counts.tolist():
            raise EmbeddingError(
                f"shard sizes changed during the build ({added} vs {counts.tolist()}).",
                fix="rerun the build.",
            )
        merged = faiss.read_index(str(trained_path))
        for _, _, shard_index_path in jobs:
            part = faiss.read_index(shard_index_path)
            faiss.merge_into(merged, part, True)
        add_seconds = time.perf_counter() - t1

        t2 = time.perf_counter()
        fidelity = tune_and_measure(
            merged, kind, build_params,
            base_batches=lambda: with_offsets(
                block for s in shards for block in iter_unit_batches(s.vectors, normalized=s.normalized)
            ),
            sample=sample, n=n, target_recall=target_recall, n_queries=fidelity_queries, seed=seed + 1,
        )
    finally:
        if own_tmp:
            shutil.rmtree(work, ignore_errors=True)

    ids = pd.concat([s.ids for s in shards], ignore_index=True)
    for col in STRING_ID_COLUMNS:
        if col in ids.columns:
            ids[col] = ids[col].fillna("")
    meta: dict[str, Any] = {
        "kind": kind.name,
        "params": build_params,
        "factory": kind.factory_string(build_params),
        "search_params": fidelity.search_params,
        "fidelity": fidelity.as_meta(),
        "reason": f"sharded build over {len(shards)} shards",
        "memory_bytes_estimate": kind.memory_bytes(n, d, build_params),
        "memory_budget": budget,
        "build_seconds": round(train_seconds + add_seconds, 3),
        "tune_seconds": round(time.perf_counter() - t2, 3),
        "gpu": on_gpu,
        "shards": [{"path": str(p), "count": int(c)} for p, c in zip(shard_paths, counts, strict=True)],
        "embeddings": {k: shards[0].meta[k] for k in CARRIED_META if k in shards[0].meta},
    }
    bundle = IndexBundle(merged, ids, meta)
    if out_dir is not None:
        bundle.save(out_dir)
    return bundle


def _fill_shard(trained_path: str, shard_path: str, out_path: str, threads: int | None = None) -> int:
    """Add one shard's vectors to a copy of the trained empty index and write it; returns the count added.

    Runs in a worker process (spawned, so OpenMP state is fresh); every argument is a path, nothing large is
    pickled.
    """
    if threads is not None:
        faiss.omp_set_num_threads(threads)
    index = faiss.read_index(trained_path)
    shard = EmbeddingSet.load(shard_path, mmap=True, check=False)
    add_in_batches(index, shard.vectors, normalized=shard.normalized)
    faiss.write_index(index, out_path)
    return int(index.ntotal)
