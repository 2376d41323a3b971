"""The report stage's lists of allowed values, defined once: reference rows, recall ks, the metric keys.

The benchmark runs these rows and writes these keys into ``metrics.json``; the report reads them back and the
CLI prints them, so all three import them from here (this module loads neither torch nor faiss).

>>> REFERENCE_ROWS, METRIC_KEYS[-1]
(('untrained', 'color_histogram'), 'map@r')
"""

from __future__ import annotations

from typing import Literal, TypeGuard, get_args

from colorvariants.metrics.retrieval import DEFAULT_KS

# Rows that measure the task, not a training method: an untrained backbone and a colour histogram.
ReferenceRow = Literal["untrained", "color_histogram"]
REFERENCE_ROWS: tuple[ReferenceRow, ...] = get_args(ReferenceRow)
RECALL_KS: tuple[int, ...] = DEFAULT_KS  # the ks evaluate_embeddings reports
# The retrieval metrics of every benchmark row, in table order.
METRIC_KEYS: tuple[str, ...] = (*(f"recall@{k}" for k in RECALL_KS), "map@r")


def is_reference_row(name: str) -> TypeGuard[ReferenceRow]:
    """Whether ``name`` is one of the reference rows (``untrained``, ``color_histogram``)."""
    return name in REFERENCE_ROWS
