"""Property-based tests (hypothesis) of recall@k and mAP@R against shared/docs/protocol.md.

Every property runs on random labelled embedding sets: a few styles, each with one or more products (colour
variants), each with one or more images, rows in random order. Vectors are Gaussian (drawn from a seed), so
exact similarity ties have probability zero; examples where a relevant and an irrelevant gallery item score
within ``TIE_GAP`` of each other are rejected, because there the float32 ranking may differ from the float64
reference. Ties are tested on their own with one-hot vectors, whose similarities are exact: the lower row
ranks first (``exact_protocol_metrics`` sorts stably).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import faiss
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from colorvariants.errors import EmbeddingError
from colorvariants.metrics.retrieval import (
    average_precision_at_r,
    exact_protocol_metrics,
    map_at_r,
    recall_at_k,
)
from colorvariants.retrieval.evaluate import evaluate_embeddings
from colorvariants.retrieval.store import EmbeddingSet

KS = (1, 2, 3, 5, 10, 20)
# Smallest similarity gap between a relevant and an irrelevant gallery item that float32 ranks reliably.
TIE_GAP = 1e-5
FAST = settings(max_examples=60, deadline=None)


@dataclass(frozen=True)
class Labelled:
    """An embedding set: ``(N, D)`` float32 vectors, and the style and product of each row."""

    x: np.ndarray
    style: np.ndarray
    product: np.ndarray


@st.composite
def labelled_sets(draw: st.DrawFn, clustered: float | None = None) -> Labelled:
    """Random styles -> products -> images, with at least one style of two products (one query at least)."""
    products_per_style = draw(st.lists(st.integers(1, 3), min_size=1, max_size=6))
    if max(products_per_style) < 2:
        products_per_style[0] = 2
    style, product = [], []
    for s, n_products in enumerate(products_per_style):
        for _ in range(n_products):
            p = len(set(product))
            n_images = draw(st.integers(1, 3))
            style += [s] * n_images
            product += [p] * n_images
    n = len(style)
    order = np.asarray(draw(st.permutations(range(n))))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dim = draw(st.integers(2, 8))
    strength = draw(st.floats(0.0, 3.0)) if clustered is None else clustered
    centres = rng.standard_normal((len(products_per_style), dim))
    style_arr = np.asarray(style)[order]
    x = centres[style_arr] * strength + rng.standard_normal((n, dim))
    return Labelled(x.astype(np.float32), style_arr, np.asarray(product)[order])


def protocol_by_loops(data: Labelled, ks: Sequence[int]) -> tuple[dict[str, float], float]:
    """shared/docs/protocol.md written as plain loops in float64, and the smallest relevant/irrelevant gap.

    Queries: rows whose style has >= 2 products. Gallery: every row but the query's own product's. Ranked by
    cosine similarity, ties by row. Recall@k: a same-style row in the first k. AP@R: R = same-style gallery
    rows.
    """
    x = data.x.astype(np.float64)
    unit = [row / np.linalg.norm(row) for row in x]
    n = len(unit)
    hits_at = {k: [] for k in ks}
    aps = []
    gap = np.inf
    for q in range(n):
        if len({data.product[j] for j in range(n) if data.style[j] == data.style[q]}) < 2:
            continue
        gallery = [j for j in range(n) if data.product[j] != data.product[q]]
        sims = {j: float(unit[q] @ unit[j]) for j in gallery}
        ranked = sorted(gallery, key=lambda j: (-sims[j], j))
        hits = [data.style[j] == data.style[q] for j in ranked]
        for k in ks:
            hits_at[k].append(any(hits[:k]))
        r = sum(hits)
        found, total = 0, 0.0
        for i in range(r):
            if hits[i]:
                found += 1
                total += found / (i + 1)
        aps.append(total / r)
        relevant = [sims[j] for j, h in zip(ranked, hits, strict=True) if h]
        other = [sims[j] for j, h in zip(ranked, hits, strict=True) if not h]
        if other:
            gap = min(gap, min(abs(a - b) for a in relevant for b in other))
    out = {f"recall@{k}": float(np.mean(v)) for k, v in hits_at.items()}
    out["map@r"] = float(np.mean(aps))
    out["n_queries"] = len(aps)
    return out, gap


def assert_same_metrics(got: dict, want: dict) -> None:
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-9), (key, got, want)


@pytest.fixture(autouse=True, scope="module")
def one_faiss_thread() -> Iterator[None]:
    """Tiny searches: one thread avoids OpenMP start-up costs and leaves the other cores alone."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


class TestHitMatrixMetrics:
    """``recall_at_k`` and ``map_at_r`` on arbitrary ranked hit matrices."""

    @FAST
    @given(arrays(bool, st.tuples(st.integers(1, 8), st.integers(1, 12))))
    def test_recall_is_monotone_and_matches_loops(self, hits: np.ndarray) -> None:
        ks = tuple(range(1, hits.shape[1] + 1))
        got = recall_at_k(hits, ks=ks)
        values = [got[f"recall@{k}"] for k in ks]
        assert values == sorted(values)
        assert all(0.0 <= v <= 1.0 for v in values)
        for k in ks:
            want = sum(any(row[:k]) for row in hits.tolist()) / hits.shape[0]
            assert got[f"recall@{k}"] == pytest.approx(want)

    @FAST
    @given(st.data())
    def test_map_at_r_is_in_unit_interval_and_matches_loops(self, data: st.DataObject) -> None:
        hits = data.draw(arrays(bool, st.tuples(st.integers(1, 8), st.integers(1, 12))))
        n = len(hits)
        r = np.asarray(data.draw(st.lists(st.integers(1, hits.shape[1]), min_size=n, max_size=n)))
        ap = average_precision_at_r(hits, r)
        assert ((ap >= 0) & (ap <= 1)).all()
        for q, row in enumerate(hits.tolist()):
            precisions = [sum(row[: i + 1]) / (i + 1) for i in range(r[q]) if row[i]]
            assert ap[q] == pytest.approx(sum(precisions) / r[q])
        assert map_at_r(hits, r) == pytest.approx(float(ap.mean()))

    @FAST
    @given(st.integers(1, 10), st.integers(0, 5))
    def test_map_at_r_is_one_iff_first_r_are_hits(self, r: int, tail: int) -> None:
        perfect = np.zeros((1, r + tail), dtype=bool)
        perfect[0, :r] = True
        assert map_at_r(perfect, [r]) == 1.0
        if tail:
            late = np.roll(perfect, 1, axis=1)  # one relevant item pushed just past rank R
            assert map_at_r(late, [r]) < 1.0


class TestExactProtocolMetrics:
    """``exact_protocol_metrics`` (brute-force protocol) against the plain-loop reference; invariances."""

    @FAST
    @given(labelled_sets())
    def test_equals_plain_loop_reference(self, data: Labelled) -> None:
        want, gap = protocol_by_loops(data, KS)
        assume(gap > TIE_GAP)
        assert_same_metrics(exact_protocol_metrics(data.x, data.style, data.product, ks=KS), want)

    @FAST
    @given(labelled_sets())
    def test_recall_is_monotone_in_k_and_complete_at_n(self, data: Labelled) -> None:
        n = len(data.x)
        ks = tuple(range(1, n + 3))
        got = exact_protocol_metrics(data.x, data.style, data.product, ks=ks)
        values = [got[f"recall@{k}"] for k in ks]
        assert values == sorted(values)
        # Every query's style has another product, so by rank N-1 every query has found a variant.
        assert got[f"recall@{n}"] == 1.0
        assert 0.0 <= got["map@r"] <= 1.0

    @FAST
    @given(labelled_sets(), st.data())
    def test_invariant_to_row_order(self, data: Labelled, draw: st.DataObject) -> None:
        assume(protocol_by_loops(data, KS)[1] > TIE_GAP)
        perm = np.asarray(draw.draw(st.permutations(range(len(data.x)))))
        before = exact_protocol_metrics(data.x, data.style, data.product, ks=KS)
        after = exact_protocol_metrics(data.x[perm], data.style[perm], data.product[perm], ks=KS)
        assert_same_metrics(after, before)

    @FAST
    @given(labelled_sets(), st.data())
    def test_invariant_to_positive_scale_per_row(self, data: Labelled, draw: st.DataObject) -> None:
        """The code L2-normalises rows, so scaling any row by c > 0 cannot change a cosine ranking."""
        assume(protocol_by_loops(data, KS)[1] > TIE_GAP)
        n = len(data.x)
        scales = np.asarray(draw.draw(st.lists(st.floats(1e-3, 1e3), min_size=n, max_size=n)), np.float32)
        before = exact_protocol_metrics(data.x, data.style, data.product, ks=KS)
        after = exact_protocol_metrics(data.x * scales[:, None], data.style, data.product, ks=KS)
        assert_same_metrics(after, before)

    @FAST
    @given(labelled_sets())
    def test_invariant_to_label_names(self, data: Labelled) -> None:
        """Labels are names: strings in any order give the same metrics as their integer codes."""
        before = exact_protocol_metrics(data.x, data.style, data.product, ks=KS)
        styles = np.array([f"style-{9 - s}" for s in data.style], dtype=object)
        products = np.array([f"{p:03d}" for p in data.product], dtype=object)
        assert_same_metrics(exact_protocol_metrics(data.x, styles, products, ks=KS), before)

    @FAST
    @given(labelled_sets(clustered=0.0), st.floats(0.0, 0.1))
    def test_perfect_clusters_score_one(self, data: Labelled, noise: float) -> None:
        """Each style on its own axis, plus noise of norm <= 0.1 (cosine >= 0.65 within, <= 0.26 across)."""
        n_styles = int(data.style.max()) + 1
        jitter = np.resize(data.x, (len(data.x), n_styles))
        jitter /= np.linalg.norm(jitter, axis=1, keepdims=True)
        x = np.eye(n_styles, dtype=np.float32)[data.style] + noise * jitter
        got = exact_protocol_metrics(x, data.style, data.product, ks=KS)
        assert all(got[f"recall@{k}"] == 1.0 for k in KS)
        assert got["map@r"] == pytest.approx(1.0)

    @FAST
    @given(labelled_sets(), st.data())
    def test_ties_rank_the_lower_row_first(self, data: Labelled, draw: st.DataObject) -> None:
        """One-hot vectors on a few axes: exact ties everywhere, ranked by row as documented."""
        axes = np.asarray(draw.draw(st.lists(st.integers(0, 2), min_size=len(data.x), max_size=len(data.x))))
        x = np.eye(3, dtype=np.float32)[axes]
        want, _ = protocol_by_loops(Labelled(x, data.style, data.product), KS)
        assert_same_metrics(exact_protocol_metrics(x, data.style, data.product, ks=KS), want)

    @FAST
    @given(labelled_sets(), st.data())
    def test_nan_or_inf_row_raises_naming_the_row(self, data: Labelled, draw: st.DataObject) -> None:
        row = draw.draw(st.integers(0, len(data.x) - 1))
        col = draw.draw(st.integers(0, data.x.shape[1] - 1))
        x = data.x.copy()
        x[row, col] = draw.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        with pytest.raises(ValueError, match=rf"NaN or inf \(rows {row}\).*Fix:"):
            exact_protocol_metrics(x, data.style, data.product, ks=KS)


def embedding_set(data: Labelled) -> EmbeddingSet:
    ids = pd.DataFrame({
        "image_path": [f"img/{i}.jpg" for i in range(len(data.x))],
        "product_id": [f"p{p}" for p in data.product],
        "style_id": [f"s{s}" for s in data.style],
    })
    return EmbeddingSet(data.x, ids)


class TestEvaluateEmbeddings:
    """The batched FAISS evaluation equals the reference whatever its batching."""

    @settings(max_examples=40, deadline=None)
    @given(labelled_sets(), st.integers(1, 8), st.integers(1, 64))
    def test_equals_reference_for_any_batching(self, data: Labelled, batch: int, entries: int) -> None:
        want, gap = protocol_by_loops(data, KS)
        assume(gap > TIE_GAP)
        got = evaluate_embeddings(embedding_set(data), ks=KS, batch_size=batch, max_result_entries=entries,
                                  use_gpu=False)
        assert_same_metrics(got, want)

    @settings(max_examples=20, deadline=None)
    @given(labelled_sets(), st.data())
    def test_nan_or_inf_row_is_refused(self, data: Labelled, draw: st.DataObject) -> None:
        row = draw.draw(st.integers(0, len(data.x) - 1))
        x = data.x.copy()
        x[row, 0] = draw.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        with pytest.raises((EmbeddingError, ValueError), match=rf"\brow {row}\b"):
            evaluate_embeddings(embedding_set(Labelled(x, data.style, data.product)), ks=KS, use_gpu=False)
