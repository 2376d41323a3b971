"""Pure numpy metric functions: retrieval (recall@k, mAP@R, the brute-force protocol reference) and grouping.

Any stage may import this package; it imports nothing heavier than numpy.
"""

from __future__ import annotations

from colorvariants.metrics.grouping import (
    PairCounts,
    adjusted_rand_index,
    group_size_distribution,
    grouping_metrics,
    pair_counts,
    pairwise_precision_recall_f1,
)
from colorvariants.metrics.retrieval import (
    DEFAULT_KS,
    average_precision_at_r,
    exact_protocol_metrics,
    map_at_r,
    recall_at_k,
)

__all__ = [
    "DEFAULT_KS",
    "PairCounts",
    "adjusted_rand_index",
    "average_precision_at_r",
    "exact_protocol_metrics",
    "group_size_distribution",
    "grouping_metrics",
    "map_at_r",
    "pair_counts",
    "pairwise_precision_recall_f1",
    "recall_at_k",
]
