"""Pairwise precision/recall/F1, ARI (against sklearn) and group-size distribution."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from colorvariants.metrics.grouping import (
    adjusted_rand_index,
    group_size_distribution,
    grouping_metrics,
    pair_counts,
    pairwise_precision_recall_f1,
)


def brute_force_pairs(t: np.ndarray, p: np.ndarray) -> tuple[int, int, int, int]:
    tp = fp = fn = tn = 0
    for i, j in itertools.combinations(range(len(t)), 2):
        same_t, same_p = t[i] == t[j], p[i] == p[j]
        tp += same_t and same_p
        fp += (not same_t) and same_p
        fn += same_t and not same_p
        tn += not (same_t or same_p)
    return tp, fp, fn, tn


class TestPairCounts:
    @pytest.mark.parametrize("seed", range(5))
    def test_equal_brute_force(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        t, p = rng.integers(0, 6, 40), rng.integers(0, 8, 40)
        c = pair_counts(t, p)
        counted = (c.true_positive, c.false_positive, c.false_negative, c.true_negative)
        assert counted == brute_force_pairs(t, p)
        assert c.total == 40 * 39 // 2

    def test_precision_recall_f1_from_pairs(self) -> None:
        rng = np.random.default_rng(7)
        t, p = rng.integers(0, 5, 30), rng.integers(0, 5, 30)
        tp, fp, fn, _ = brute_force_pairs(t, p)
        m = pairwise_precision_recall_f1(t, p)
        assert m["pairwise_precision"] == pytest.approx(tp / (tp + fp))
        assert m["pairwise_recall"] == pytest.approx(tp / (tp + fn))
        prec, rec = tp / (tp + fp), tp / (tp + fn)
        assert m["pairwise_f1"] == pytest.approx(2 * prec * rec / (prec + rec))

    def test_no_predicted_pairs_means_full_precision_zero_recall(self) -> None:
        m = pairwise_precision_recall_f1([0, 0, 1], [0, 1, 2])
        assert m == {"pairwise_precision": 1.0, "pairwise_recall": 0.0, "pairwise_f1": 0.0}

    def test_length_mismatch(self) -> None:
        with pytest.raises(ValueError):
            pair_counts([0, 1], [0])


class TestAdjustedRandIndex:
    @pytest.mark.parametrize("seed", range(8))
    @pytest.mark.parametrize("n_true,n_pred", [(3, 3), (10, 4), (50, 60)])
    def test_equals_sklearn(self, seed: int, n_true: int, n_pred: int) -> None:
        rng = np.random.default_rng(seed)
        t = rng.integers(0, n_true, 200)
        p = np.where(rng.random(200) < 0.6, t, rng.integers(0, n_pred, 200))  # partly right
        assert adjusted_rand_index(t, p) == pytest.approx(adjusted_rand_score(t, p), abs=1e-12)

    @pytest.mark.parametrize(
        "t,p",
        [
            ([0, 1, 2, 3], [0, 1, 2, 3]),
            ([0, 0, 0], [1, 1, 1]),
            ([0, 0, 1, 1], [5, 5, 7, 7]),
            ([0, 0, 1], [0, 1, 1]),
        ],
    )
    def test_edge_cases_equal_sklearn(self, t: list[int], p: list[int]) -> None:
        assert adjusted_rand_index(t, p) == pytest.approx(adjusted_rand_score(t, p))

    def test_string_labels(self) -> None:
        assert adjusted_rand_index(["a", "a", "b"], ["x", "x", "y"]) == 1.0


def test_group_size_distribution() -> None:
    d = group_size_distribution([5, 5, 5, 9, 1, 1, 7])
    assert d["n_items"] == 7 and d["n_groups"] == 4 and d["n_singletons"] == 2
    assert d["max_size"] == 3 and d["sizes"] == {"1": 2, "2": 1, "3": 1} and d["n_items_in_groups"] == 5
    assert d["mean_size"] == pytest.approx(7 / 4) and d["median_size"] == 1.5


def test_grouping_metrics_keys() -> None:
    m = grouping_metrics([0, 0, 1, 1], [0, 0, 1, 2])
    assert set(m) == {"pairwise_precision", "pairwise_recall", "pairwise_f1", "ari"}
    assert m["pairwise_precision"] == 1.0 and m["pairwise_recall"] == 0.5


def test_product_precision_recall() -> None:
    from colorvariants.metrics.grouping import product_precision_recall

    # styles a a a b b c; groups {0,1} pure, {3,4,5} mixes b with c, product 2 alone
    got = product_precision_recall(["a", "a", "a", "b", "b", "c"], [0, 0, 1, 2, 2, 2])
    # recall: a-products 0,1 found a variant, 2 did not; b-products 3,4 did; c has no variant -> 4/5
    # precision: grouped products 0,1,3,4,5; 0,1 have only same-style mates; 3,4,5 share a group with c/b -> 2/5
    assert got == {"product_precision": 0.4, "product_recall": 0.8}
    assert product_precision_recall([], []) == {"product_precision": 1.0, "product_recall": 1.0}
