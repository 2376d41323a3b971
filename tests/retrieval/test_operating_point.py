"""The dedup operating point: chosen on the grouping's precision-recall curve by precision, recall or F1."""

from __future__ import annotations

import pytest

from colorvariants.errors import EmbeddingError
from colorvariants.retrieval.operating_point import CurvePoint, GroupingCurve, OperatingTarget


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
