"""Retrieval metrics of the evaluation protocol (shared/docs/protocol.md): recall@k and mAP@R, in pure numpy.

``recall_at_k`` and ``map_at_r`` work on a ranked hit matrix (one row per query, one column per rank), so any
search (brute force, FAISS, batched) can feed them. ``exact_protocol_metrics`` is the brute-force reference
implementation of the whole protocol for small sets (training's online validation, tests); the batched FAISS
implementation for large sets is ``colorvariants.retrieval.evaluate.evaluate_embeddings``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# The recall cut-offs reported by default (evaluate, benchmark, the report: report/choices.py's METRIC_KEYS).
DEFAULT_KS: tuple[int, ...] = (1, 5, 10, 20)
# Similarity entries held at once by ``exact_protocol_metrics`` (queries x items): ~16 MB of float32.
_CHUNK_ENTRIES = 4_000_000


def recall_at_k(neighbor_is_hit: np.ndarray, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """Share of queries with at least one hit among their first k neighbours, for each k.

    Args:
        neighbor_is_hit: ``(Q, K)`` bool; ``[q, j]`` is True when the j-th ranked gallery item of query q is
            relevant (same style, another product). Columns must already exclude what the protocol excludes.
        ks: the cut-offs; each must be ``<= K`` (pad with False columns when the gallery is shorter than k).

    Returns:
        ``{"recall@1": ..., "recall@5": ...}`` in the order of ``ks``.

    Raises:
        ValueError: no queries, a k < 1, or a k larger than the number of ranked columns.

    >>> recall_at_k(np.array([[False, True], [False, False]]), ks=(1, 2))
    {'recall@1': 0.0, 'recall@2': 0.5}
    """
    hits = _as_hit_matrix(neighbor_is_hit)
    n_cols = hits.shape[1]
    out: dict[str, float] = {}
    if not ks:
        return out
    bad = [k for k in ks if int(k) < 1 or int(k) > n_cols]
    if bad:
        raise ValueError(
            f"k={bad} outside 1..{n_cols} (ranked columns); pad the hit matrix with False columns"
        )
    # Rank of the first hit per query (n_cols when none): one pass serves every k.
    any_hit = hits.any(axis=1)
    first = np.where(any_hit, hits.argmax(axis=1), n_cols)
    for k in ks:
        out[f"recall@{int(k)}"] = float(np.mean(first < int(k)))
    return out


def average_precision_at_r(neighbor_is_hit: np.ndarray, r_counts: np.ndarray | Sequence[int]) -> np.ndarray:
    """Per-query average precision at R (the summand of mAP@R), as a float64 array of shape ``(Q,)``.

    For query q with ``R = r_counts[q]`` relevant gallery items, AP@R = (1/R) * sum of precision@i over the
    first R ranks i that are hits ("A Metric Learning Reality Check", Musgrave et al. 2020, section 3.2;
    identical to pytorch-metric-learning's ``mean_average_precision_at_r``).

    Raises:
        ValueError: shapes disagree, some R < 1 (a query without relevant items is not a query), or some R is
            larger than the number of ranked columns (the ranking was cut too short to be exact).
    """
    hits = _as_hit_matrix(neighbor_is_hit)
    r = np.asarray(r_counts, dtype=np.int64).reshape(-1)
    if r.shape[0] != hits.shape[0]:
        raise ValueError(f"r_counts has {r.shape[0]} entries for {hits.shape[0]} queries")
    if (r < 1).any():
        n_bad = int((r < 1).sum())
        raise ValueError(f"{n_bad} queries have R < 1: drop queries without relevant gallery items")
    n_cols = hits.shape[1]
    if int(r.max()) > n_cols:
        raise ValueError(f"R up to {int(r.max())} but only {n_cols} ranked columns: search deeper (K >= R)")
    ranks = np.arange(1, n_cols + 1, dtype=np.float64)
    in_first_r = ranks[None, :] <= r[:, None]
    h = hits & in_first_r
    precision = np.cumsum(h, axis=1, dtype=np.float64) / ranks[None, :]
    return (precision * h).sum(axis=1) / r


def map_at_r(neighbor_is_hit: np.ndarray, r_counts: np.ndarray | Sequence[int]) -> float:
    """Mean over queries of AP@R (see ``average_precision_at_r``); R = number of relevant gallery items.

    >>> map_at_r(np.array([[True, False, True]]), r_counts=[2])  # one hit (precision 1) in the first R=2
    0.5
    """
    return float(np.mean(average_precision_at_r(neighbor_is_hit, r_counts)))


def exact_protocol_metrics(
    embeddings: Any,
    style_labels: Any,
    product_labels: Any,
    ks: Sequence[int] = DEFAULT_KS,
) -> dict[str, float | int]:
    """Brute-force reference of the protocol's retrieval metrics (cosine, exclude the query's own product).

    Queries: items whose style has at least two products. Gallery of a query: every item except those of the
    query's own product. Similarity: inner product of L2-normalised rows (an all-zero row scores 0 against
    everything); equal similarities rank the lower row first (stable sort). Queries are processed in chunks so
    that N up to a few thousand stays cheap (O(chunk x N) memory); it is exact at any N but O(N^2) in time.

    Args:
        embeddings: ``(N, D)`` numpy array or torch tensor (any device; it is copied to the CPU).
        style_labels: ``(N,)`` style of each item (any hashable values; ints, strings or a tensor).
        product_labels: ``(N,)`` product of each item.
        ks: recall cut-offs.

    Returns:
        ``recall@1``, ``recall@5``, ``recall@10``, ``recall@20``, ``map@r``, ``n_queries`` (recall keys follow
        ``ks``).

    Raises:
        ValueError: shapes disagree, a row holds NaN or inf (the message names the rows), or no style has two
            products (nothing to evaluate).

    >>> x = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    >>> exact_protocol_metrics(x, [0, 0, 1, 1], [0, 1, 2, 3], ks=(1,))["recall@1"]
    1.0
    """
    x = _to_numpy(embeddings).astype(np.float32, copy=True)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be (N, D); got shape {x.shape}")
    n = x.shape[0]
    _check_finite(x)
    style = _codes(style_labels, n, "style_labels")
    product = _codes(product_labels, n, "product_labels")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x /= np.where(norms > 0, norms, 1.0)

    products_per_style = _products_per_style(style, product)
    queries = np.flatnonzero(products_per_style[style] >= 2)
    if queries.size == 0:
        raise ValueError("no style has two products: there is no colour variant to retrieve")
    style_size = np.bincount(style)
    product_size = np.bincount(product)
    r_all = style_size[style] - product_size[product]

    max_k = max((int(k) for k in ks), default=1)
    n_cols = max(n, max_k)
    chunk = max(1, _CHUNK_ENTRIES // max(n, 1))
    first_hit = np.empty(queries.size, dtype=np.int64)
    ap = np.empty(queries.size, dtype=np.float64)
    for start in range(0, queries.size, chunk):
        q = queries[start : start + chunk]
        sims = x[q] @ x.T
        own = product[None, :] == product[q][:, None]
        sims[own] = -np.inf
        order = np.argsort(-sims, axis=1, kind="stable")
        hits = (style[order] == style[q][:, None]) & ~own[np.arange(q.size)[:, None], order]
        if n_cols > n:
            hits = np.pad(hits, ((0, 0), (0, n_cols - n)))
        any_hit = hits.any(axis=1)
        first_hit[start : start + q.size] = np.where(any_hit, hits.argmax(axis=1), n_cols)
        ap[start : start + q.size] = average_precision_at_r(hits, r_all[q])

    out: dict[str, float | int] = {f"recall@{int(k)}": float(np.mean(first_hit < int(k))) for k in ks}
    out["map@r"] = float(ap.mean())
    out["n_queries"] = int(queries.size)
    return out


def _check_finite(x: np.ndarray) -> None:
    """Raise naming the rows with NaN/inf: their similarities are undefined and would silently skew ranks."""
    bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if bad.size:
        shown = ", ".join(str(r) for r in bad[:10].tolist())
        more = f", ... and {bad.size - 10} more" if bad.size > 10 else ""
        raise ValueError(
            f"{bad.size} embedding row(s) hold NaN or inf (rows {shown}{more}), so their similarities "
            "and the metrics are undefined. Fix: re-embed those images with a checkpoint whose loss is "
            "finite, or drop the rows and their labels."
        )


def _products_per_style(style: np.ndarray, product: np.ndarray) -> np.ndarray:
    """Number of distinct products of each style code."""
    pairs = np.unique(np.stack([style, product], axis=1), axis=0)
    return np.bincount(pairs[:, 0], minlength=int(style.max()) + 1 if style.size else 0)


def _as_hit_matrix(neighbor_is_hit: np.ndarray) -> np.ndarray:
    hits = np.asarray(neighbor_is_hit, dtype=bool)
    if hits.ndim != 2:
        raise ValueError(f"neighbor_is_hit must be (Q, K); got shape {hits.shape}")
    if hits.shape[0] == 0:
        raise ValueError("no queries: neighbor_is_hit has zero rows")
    return hits


def _to_numpy(value: Any) -> np.ndarray:
    """numpy view of an array-like; torch tensors are detached and moved to the CPU (no torch import)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu()
        if hasattr(value, "numpy"):
            return value.float().numpy() if value.is_floating_point() else value.numpy()
    return np.asarray(value)


def _codes(labels: Any, n: int, name: str) -> np.ndarray:
    arr = _to_numpy(labels).reshape(-1)
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} entries for {n} embeddings")
    return np.unique(arr, return_inverse=True)[1].reshape(-1).astype(np.int64)
