"""``auto``: pick the index kind from collection size and a memory budget, then tune it to a target recall.

The rule (after autofaiss' ``get_optimal_index_keys``, simplified; N vectors of dimension D, float32):

=========================================  =========  =====================================================
condition (first that holds)               kind       memory it needs (bytes)
=========================================  =========  =====================================================
N < 100k and 4·N·D <= budget               ``flat``   4·N·D (exact; a CPU query over 100k x 128-d is ~ms)
N <= 10M and HNSW fits the budget          ``hnsw``   4·N·D + (8·M + 16)·N, M = 32
IVF-Flat fits the budget                   ``ivf``    4·N·D + 8·N + 4·nlist·D
otherwise (vectors do not fit)             ``ivfpq``  N·(m + 8) + 4·nlist·D + 4·D·256, m = largest code
                                                      in {D/4, D/8, D/16} bytes that fits
=========================================  =========  =====================================================

HNSW stops at 10M because its build is single-graph (hours on a few cores) and its memory grows with M; IVF
builds in one k-means pass. The budget defaults to half the available RAM.

Tuning: on a random sample of collection vectors, compare the index's top-10 (self excluded) with exact search
and take the smallest ``nprobe``/``efSearch`` whose recall@10 reaches the target (0.95 by default); the
reported *fidelity* is measured on a second, disjoint sample, so the number reported is not the one fitted.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import faiss
import numpy as np

from colorvariants.errors import IndexFileError
from colorvariants.retrieval.index.base import (
    INDEX_KINDS,
    BaseBatches,
    IndexKind,
    drop_self,
    exact_knn,
    search_in_batches,
)

log = logging.getLogger(__name__)

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
          "t": 1000**4, "tb": 1000**4, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


def parse_memory(text: str | int | float) -> int:
    """Bytes from ``4GB``, ``512MiB``, ``1.5g``, ``1000000`` (decimal units; ``*iB`` binary).

    Raises:
        ValueError: an unknown unit or a non-positive size.

    >>> parse_memory("4GB"), parse_memory("1KiB")
    (4000000000, 1024)
    """
    if isinstance(text, (int, float)):
        value = int(text)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text)
        if not match or match.group(2).lower() not in _UNITS:
            raise ValueError(f"cannot read memory size {text!r}; write e.g. 4GB, 512MB or 1.5GiB")
        value = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if value <= 0:
        raise ValueError(f"memory size must be positive; got {text!r}")
    return value


def default_memory_budget() -> int:
    """Half the RAM available now (psutil), or 4 GB when it cannot be read."""
    try:
        import psutil

        return int(psutil.virtual_memory().available // 2)
    except Exception:  # psutil missing or unsupported platform
        return 4 * 1000**3


@dataclass(frozen=True)
class AutoRule:
    """Thresholds of the automatic choice (see the module docstring for the table)."""

    flat_max: int = 100_000
    hnsw_max: int = 10_000_000


DEFAULT_RULE = AutoRule()


@dataclass(frozen=True)
class AutoChoice:
    """The kind picked, its build parameters, the estimated memory, and why (printed by ``index build``)."""

    kind: str
    params: dict[str, int]
    memory_bytes: int
    reason: str


def choose_kind(n: int, d: int, memory_budget: int | None = None, rule: AutoRule = DEFAULT_RULE) -> AutoChoice:
    """Pick ``flat``/``hnsw``/``ivf``/``ivfpq`` for ``n`` vectors of dimension ``d`` in a memory budget.

    Raises:
        IndexFileError: not even the leanest IVF-PQ code fits the budget.

    >>> choose_kind(10_000, 128, 10**9).kind, choose_kind(10_000, 128, 10**6).kind
    ('flat', 'ivfpq')
    """
    budget = default_memory_budget() if memory_budget is None else int(memory_budget)
    gb = f"{budget / 1e9:.3g} GB"

    def sized(name: str) -> tuple[IndexKind, dict[str, int], int]:
        kind = INDEX_KINDS[name]
        params = kind.default_params(n, d, budget)
        return kind, params, kind.memory_bytes(n, d, params)

    _, fp, flat_mem = sized("flat")
    if n < rule.flat_max and flat_mem <= budget:
        why = f"{n} < {rule.flat_max} vectors and {flat_mem / 1e9:.3g} GB fits {gb}: exact"
        return AutoChoice("flat", fp, flat_mem, why)
    _, hp, hnsw_mem = sized("hnsw")
    if n <= rule.hnsw_max and hnsw_mem <= budget:
        return AutoChoice("hnsw", hp, hnsw_mem, f"{n} vectors, graph of {hnsw_mem / 1e9:.3g} GB fits {gb}")
    _, ip, ivf_mem = sized("ivf")
    if ivf_mem <= budget:
        why = "too many for one HNSW graph" if n > rule.hnsw_max else "HNSW graph does not fit"
        why = f"{n} vectors: {why}; IVF-Flat of {ivf_mem / 1e9:.3g} GB fits {gb}"
        return AutoChoice("ivf", ip, ivf_mem, why)
    pq, qp, pq_mem = sized("ivfpq")
    if pq_mem > budget:
        raise IndexFileError(
            f"no index kind fits a memory budget of {gb} for {n} vectors of dimension {d}: even IVF-PQ with "
            f"{qp['m']}-byte codes needs {pq_mem / 1e9:.3g} GB.",
            fix="raise --memory-budget, or build shards with build_sharded_ivfpq and serve them on several "
                "machines.",
        )
    why = (
        f"vectors need {flat_mem / 1e9:.3g} GB > {gb}: IVF-PQ with {qp['m']}-byte codes "
        f"needs {pq_mem / 1e9:.3g} GB"
    )
    return AutoChoice("ivfpq", qp, pq_mem, why)


@dataclass
class Fidelity:
    """Recall@k of an index against exact search on sample queries from the collection (self excluded)."""

    recall: float
    k: int
    n_queries: int
    target: float
    reached: bool
    search_params: dict[str, int] = field(default_factory=dict)
    tuning: list[dict[str, float]] = field(default_factory=list)

    def as_meta(self) -> dict[str, Any]:
        return {
            f"recall@{self.k}": self.recall,
            "k": self.k,
            "n_queries": self.n_queries,
            "target": self.target,
            "reached": self.reached,
            "tuning": self.tuning,
        }


def sample_rows(n: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random row samples (tuning, fidelity) of up to ``size`` each; one when n is too small."""
    perm = rng.permutation(n)
    tune = np.sort(perm[:size])
    rest = perm[size : 2 * size]
    held = np.sort(rest) if rest.size >= min(size, n) // 2 and rest.size > 0 else tune
    return tune, held


def recall_vs_exact(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each row's exact neighbours that the approximate row also holds (order ignored)."""
    k = exact.shape[1]
    found = (approx[:, :, None] == exact[:, None, :]) & (exact[:, None, :] >= 0)
    return float(found.any(axis=1).sum(axis=1).mean() / k)


def tune_and_measure(
    index: faiss.Index,
    kind: IndexKind,
    params: Mapping[str, int],
    base_batches: BaseBatches,
    sample: Callable[[np.ndarray], np.ndarray],
    n: int,
    *,
    target_recall: float = 0.95,
    k: int = 10,
    n_queries: int = 1000,
    seed: int = 0,
) -> Fidelity:
    """Tune the search knob to ``target_recall`` (recall@k vs exact) and measure fidelity on held-out queries.

    Args:
        index: the built CPU index (search parameters are set on it).
        base_batches: yields ``(offset, normalised batch)`` over the whole collection, for exact search.
        sample: returns the normalised vectors of the given sorted global rows.
        n: collection size.
    """
    k_eff = min(k, max(n - 1, 1))
    tune_rows, held_rows = sample_rows(n, n_queries, np.random.default_rng(seed))
    rows_needed = np.union1d(tune_rows, held_rows)
    queries = sample(rows_needed)
    _, exact_all = drop_self(*exact_knn(base_batches, queries, k_eff + 1), rows_needed, k_eff)
    pos_t = np.searchsorted(rows_needed, tune_rows)
    pos_h = np.searchsorted(rows_needed, held_rows)

    def recall_at(pos: np.ndarray) -> float:
        found = search_in_batches(index, queries[pos], k_eff + 1, normalized=True)
        _, got = drop_self(*found, rows_needed[pos], k_eff)
        return recall_vs_exact(got, exact_all[pos])

    def standard_error(r: float) -> float:
        return float(np.sqrt(max(r * (1 - r), 1e-12) / (pos_t.size * k_eff)))

    tuning: list[dict[str, float]] = []
    chosen: dict[str, int] = {}
    if kind.search_param is not None:
        recalls: list[tuple[int, float]] = []
        for value in kind.search_values(params):
            kind.apply_search_params(index, {kind.search_param: value})
            t0 = time.perf_counter()
            r = recall_at(pos_t)
            seconds = time.perf_counter() - t0
            tuning.append({kind.search_param: value, f"recall@{k_eff}": r, "seconds": seconds})
            recalls.append((value, r))
            # Stop at the first value that clears the target by two standard errors of the sample estimate,
            # so the held-out fidelity lands on the target's side more often than not.
            if r >= target_recall + 2 * standard_error(r):
                break
            # A plateau below the target (PQ quantisation caps recall): three steps each gaining < 0.001.
            if len(recalls) >= 4 and all(b[1] - a[1] < 1e-3 for a, b in zip(recalls[-4:-1], recalls[-3:], strict=True)):
                break
        top = max(r for _, r in recalls)
        if recalls[-1][1] >= target_recall:
            value = recalls[-1][0]
        else:  # target out of reach: the cheapest value statistically as good as the best one seen
            value = next(v for v, r in recalls if r >= top - 2 * standard_error(top))
        chosen = {kind.search_param: int(value)}
        kind.apply_search_params(index, chosen)
    recall = recall_at(pos_h)
    if recall < target_recall:
        log.warning(
            "index %s reaches recall@%d %.3f < target %.3f against exact search (%s)",
            kind.name, k_eff, recall, target_recall, chosen or "exact kind",
        )
    reached = recall >= target_recall
    return Fidelity(recall, k_eff, int(held_rows.size), target_recall, reached, chosen, tuning)
