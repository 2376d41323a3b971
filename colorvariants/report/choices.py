"""The report stage's shared values, defined once: reference rows, recall ks, metric keys, report defaults.

The benchmark runs these rows and writes these keys into ``metrics.json``; the report reads them back and the
CLI prints them and offers the defaults as flags, so all of them import from here (a light module: no torch,
faiss or jinja2, so building the CLI's parser stays quick).

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
GALLERY_QUERIES = 8  # sample queries the report's gallery shows: enough to see patterns, few to scan in a minute
GROUPS_PER_METHOD = 4  # largest colour-variant groups the report shows per method


def is_reference_row(name: str) -> TypeGuard[ReferenceRow]:
    """Whether ``name`` is one of the reference rows (``untrained``, ``color_histogram``)."""
    return name in REFERENCE_ROWS
