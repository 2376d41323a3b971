"""``StageTimer``: which stages it records, in which order, and what a failed stage leaves (no timing asserted)."""

from __future__ import annotations

import pytest

from colorvariants.retrieval.timing import StageTimer


def test_stages_in_the_order_they_end_then_the_total() -> None:
    timer = StageTimer()
    with timer.stage("outer_s"):
        with timer.stage("inner_s"):
            pass
    with timer.stage("last_s"):
        pass
    out = timer.finish()
    assert list(out) == ["inner_s", "outer_s", "last_s", "total_s"]
    assert all(isinstance(v, float) and v >= 0.0 for v in out.values())


def test_a_failed_stage_records_nothing() -> None:
    timer = StageTimer()
    with pytest.raises(RuntimeError), timer.stage("broken_s"):
        raise RuntimeError("boom")
    assert "broken_s" not in timer.seconds
    assert list(timer.finish("all_s")) == ["all_s"]
