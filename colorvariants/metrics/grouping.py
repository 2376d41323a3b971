"""Grouping metrics of the protocol: pairwise precision/recall/F1 over same-group pairs, ARI, group sizes.

All are computed from the contingency table of (true label, predicted group), so they cost O(N log N) and no
pair is ever enumerated: 1M items are as cheap as 100.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PairCounts:
    """Unordered item pairs, counted by whether they share a true label and whether they share a group.

    ``true_positive``: same label and same group; ``false_positive``: same group, different labels;
    ``false_negative``: same label, different groups; ``true_negative``: neither. Exact Python integers.
    """

    true_positive: int
    false_positive: int
    false_negative: int
    true_negative: int

    @property
    def total(self) -> int:
        return self.true_positive + self.false_positive + self.false_negative + self.true_negative


def pair_counts(labels_true: Any, labels_pred: Any) -> PairCounts:
    """Count unordered pairs by (same true label, same predicted group) from the contingency table.

    Raises:
        ValueError: the two label arrays differ in length.
    """
    t, p = _codes(labels_true), _codes(labels_pred)
    if t.shape != p.shape:
        raise ValueError(f"labels_true has {t.size} items, labels_pred {p.size}")
    n = t.size
    if n == 0:
        return PairCounts(0, 0, 0, 0)
    # Contingency cells n_ij as counts of unique (true, pred) code pairs: no dense table is built.
    joint = t * (int(p.max()) + 1) + p
    cells = np.unique(joint, return_counts=True)[1]
    same_both = _comb2_sum(cells)
    same_true = _comb2_sum(np.bincount(t))
    same_pred = _comb2_sum(np.bincount(p))
    all_pairs = n * (n - 1) // 2
    tp = same_both
    fp = same_pred - same_both
    fn = same_true - same_both
    return PairCounts(tp, fp, fn, all_pairs - tp - fp - fn)


def pairwise_precision_recall_f1(labels_true: Any, labels_pred: Any) -> dict[str, float]:
    """Pairwise precision, recall and F1 over item pairs placed in the same predicted group.

    Precision = same-group pairs that share a true label / same-group pairs; recall = same-label pairs that
    share a group / same-label pairs. With no predicted pair precision is 1.0 (no wrong merge was made); with
    no true pair recall is 1.0 (nothing to find); F1 is 0.0 when both precision and recall are 0.

    >>> pairwise_precision_recall_f1([0, 0, 1, 1], [0, 0, 0, 1])
    {'pairwise_precision': 0.3333333333333333, 'pairwise_recall': 0.5, 'pairwise_f1': 0.4}
    """
    c = pair_counts(labels_true, labels_pred)
    pred_pairs = c.true_positive + c.false_positive
    true_pairs = c.true_positive + c.false_negative
    precision = c.true_positive / pred_pairs if pred_pairs else 1.0
    recall = c.true_positive / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {
        "pairwise_precision": float(precision),
        "pairwise_recall": float(recall),
        "pairwise_f1": float(f1),
    }


def adjusted_rand_index(labels_true: Any, labels_pred: Any) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985) from pair counts; equals sklearn's ``adjusted_rand_score``.

    1.0 for identical partitions (also when both are all-singletons or one group), about 0 for random ones,
    negative when worse than chance.

    >>> adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    """
    c = pair_counts(labels_true, labels_pred)
    tp, fp, fn, tn = c.true_positive, c.false_positive, c.false_negative, c.true_negative
    if fn == 0 and fp == 0:
        return 1.0
    # ARI = (RI - E[RI]) / (max RI - E[RI]) rewritten over pair counts; Python ints keep it exact until the
    # final division (the products overflow int64 beyond ~2M items).
    num = 2 * (tp * tn - fn * fp)
    den = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)
    return float(num / den)


def group_size_distribution(group_labels: Any) -> dict[str, Any]:
    """Summary of group sizes: counts, singletons, largest, mean, median, and ``{size: number of groups}``.

    >>> group_size_distribution(["a", "a", "b"])["sizes"]
    {'1': 1, '2': 1}
    """
    g = _codes(group_labels)
    sizes = np.bincount(g) if g.size else np.zeros(0, dtype=np.int64)
    sizes = sizes[sizes > 0]
    values, counts = np.unique(sizes, return_counts=True)
    return {
        "n_items": int(g.size),
        "n_groups": int(sizes.size),
        "n_singletons": int((sizes == 1).sum()),
        "n_items_in_groups": int(sizes[sizes > 1].sum()),
        "max_size": int(sizes.max()) if sizes.size else 0,
        "mean_size": float(sizes.mean()) if sizes.size else 0.0,
        "median_size": float(np.median(sizes)) if sizes.size else 0.0,
        "sizes": {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)},
    }


def grouping_metrics(labels_true: Any, labels_pred: Any) -> dict[str, float]:
    """Pairwise precision/recall/F1 and ARI of predicted groups against true labels, in one dict."""
    out = pairwise_precision_recall_f1(labels_true, labels_pred)
    out["ari"] = adjusted_rand_index(labels_true, labels_pred)
    return out


def _comb2_sum(counts: np.ndarray) -> int:
    c = counts.astype(np.int64)
    return int((c * (c - 1) // 2).sum())


def _codes(labels: Any) -> np.ndarray:
    arr = np.asarray(labels).reshape(-1)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(arr, return_inverse=True)[1].reshape(-1).astype(np.int64)


def product_precision_recall(labels_true: Any, labels_pred: Any) -> dict[str, float]:
    """Product-level precision and recall of grouping (one item per product).

    Recall: share of items whose true label has another item that are grouped with at least one of them.
    Precision: share of items in a group of >= 2 whose group-mates all carry their label. 1.0 when nothing to
    count (no item with a variant; no group of two).

    >>> product_precision_recall([0, 0, 1, 1], [0, 0, 0, 1])
    {'product_precision': 0.0, 'product_recall': 0.5}
    """
    t, p = _codes(labels_true), _codes(labels_pred)
    if t.shape != p.shape:
        raise ValueError(f"labels_true has {t.size} items, labels_pred {p.size}")
    if t.size == 0:
        return {"product_precision": 1.0, "product_recall": 1.0}
    joint = np.unique(t * (int(p.max()) + 1) + p, return_inverse=True)[1].reshape(-1)
    same_cell = np.bincount(joint)[joint]           # items sharing label and group (incl. itself)
    group_size = np.bincount(p)[p]
    label_size = np.bincount(t)[t]
    has_variant = label_size >= 2
    grouped = group_size >= 2
    recall = float((same_cell[has_variant] >= 2).mean()) if has_variant.any() else 1.0
    precision = float((same_cell[grouped] == group_size[grouped]).mean()) if grouped.any() else 1.0
    return {"product_precision": precision, "product_recall": recall}
