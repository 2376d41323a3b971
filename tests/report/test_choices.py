"""The report stage's allowed values: one definition the benchmark, the report and the CLI share."""

from __future__ import annotations

from colorvariants.metrics.retrieval import DEFAULT_KS
from colorvariants.report.choices import METRIC_KEYS, RECALL_KS, REFERENCE_ROWS, is_reference_row


def test_reference_rows() -> None:
    assert REFERENCE_ROWS == ("untrained", "color_histogram")
    assert all(is_reference_row(name) for name in REFERENCE_ROWS) and not is_reference_row("cvssl")


def test_metric_keys_follow_the_evaluated_ks() -> None:
    assert RECALL_KS == DEFAULT_KS
    assert METRIC_KEYS == ("recall@1", "recall@5", "recall@10", "recall@20", "map@r")
