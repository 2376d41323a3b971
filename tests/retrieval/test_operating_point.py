"""The dedup operating point: chosen on the grouping's precision-recall curve by precision, recall or F1."""

from __future__ import annotations

import numpy as np
import pytest

from colorvariants.errors import EmbeddingError
from colorvariants.retrieval.operating_point import (
    CurvePoint,
    GroupingCurve,
    OperatingTarget,
    curve_thresholds,
    refine,
)


def point(t: float, p: float, r: float) -> CurvePoint:
    return CurvePoint(t, p, r, 2 * p * r / (p + r) if p + r else 0.0, p, r, 10)


CURVE = GroupingCurve("components on cosine", [point(0.9, 1.0, 0.01), point(0.8, 0.9, 0.05),
                                                point(0.7, 0.72, 0.3), point(0.6, 0.5, 0.6)])


@pytest.mark.parametrize("target, threshold", [
    (OperatingTarget(precision=0.9), 0.8), (OperatingTarget(precision=0.7), 0.7),
    (OperatingTarget(recall=0.3), 0.7), (OperatingTarget(best_f1=True), 0.6),
])
def test_choose(target: OperatingTarget, threshold: float) -> None:
    assert CURVE.points[target.choose(CURVE)].threshold == threshold


def test_costs_spell_out_the_trade_off() -> None:
    assert CURVE.costs() == ("at pair precision 0.9 you group 5.0% of the variant pairs; at 0.85, 5.0%; "
                             "at 0.7, 30.0%; at 0.5, 60.0%")


def test_unreachable_target_says_what_is_reachable() -> None:
    low = GroupingCurve("average on csls", [point(0.8, 0.75, 0.1), point(0.7, 0.55, 0.4)])
    with pytest.raises(EmbeddingError) as err:
        OperatingTarget(precision=0.9).choose(low)
    text = str(err.value)
    assert "the best is 0.750 (pair recall 10.0%" in text and "at 0.7, 10.0%; at 0.5, 40.0%" in text
    assert "out of reach" in text and "--target-precision" in text
    with pytest.raises(EmbeddingError, match="the most is 40.0%"):
        OperatingTarget(recall=0.9).choose(low)


def test_exactly_one_criterion() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        OperatingTarget(precision=0.9, best_f1=True)
    with pytest.raises(ValueError, match="in \\(0, 1\\]"):
        OperatingTarget(recall=1.5)


def _linear_curve(n_merges: int = 10_000) -> tuple[np.ndarray, list[float], object]:
    """Merges at descending heights; cutting after rank r groups r+1 merges: recall grows, precision falls."""
    heights = np.linspace(1.0, 0.0, n_merges, endpoint=False)
    cuts: list[float] = []

    def measure_at(t: float) -> CurvePoint:
        cuts.append(t)
        grouped = int((heights >= t).sum())
        return point(t, 1.0 - grouped / n_merges, grouped / n_merges)

    return heights, cuts, measure_at


@pytest.mark.parametrize("target, best_recall", [
    (OperatingTarget(precision=0.9), 0.1), (OperatingTarget(recall=0.25), 0.25), (OperatingTarget(best_f1=True), 0.5),
])
def test_refine_places_the_point_a_coarse_curve_misses(target: OperatingTarget, best_recall: float) -> None:
    # The 1M-image regression: 12 log-spaced points step several-fold in grouped pairs, and the point chosen on
    # them had precision 1.000 at recall 0.09 where 0.95 was reachable.
    heights, cuts, measure_at = _linear_curve()
    curve = GroupingCurve("components on cosine", [measure_at(t) for t in curve_thresholds(heights, 6)])
    coarse = curve.points[target.choose(curve)]
    cuts.clear()
    index = refine(curve, target, heights, measure_at)
    assert curve.chosen == index
    chosen = curve.points[index]
    assert abs(chosen.pair_recall - best_recall) < 0.02 * best_recall + 1e-3
    assert abs(coarse.pair_recall - best_recall) > 0.1 * best_recall  # the coarse curve really was off
    if target.precision is not None:
        assert chosen.pair_precision >= target.precision
    if target.recall is not None:
        assert chosen.pair_recall >= target.recall
    assert 0 < len(cuts) <= 12
    assert [p.threshold for p in curve.points] == sorted((p.threshold for p in curve.points), reverse=True)


def test_refine_keeps_an_unreachable_target_an_error() -> None:
    heights, _, measure_at = _linear_curve()
    curve = GroupingCurve("components on cosine", [measure_at(t) for t in curve_thresholds(heights, 6)[1:]])
    with pytest.raises(EmbeddingError, match="no threshold groups at pair precision 0.99999"):
        refine(curve, OperatingTarget(precision=0.99999), heights, measure_at)
