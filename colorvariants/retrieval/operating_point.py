"""The dedup operating point: the precision-recall curve of grouping over thresholds, and the point chosen on it.

Each point cuts the grouping at one threshold and measures the groups on the labelled styles: pair precision and
recall over product pairs (the protocol's grouping metrics), F1, and product-level precision/recall
(``metrics.grouping.product_precision_recall``). A user picks the point by a target precision (the most recall
that keeps it), a target recall (the most precision that keeps it) or the best F1; when the target is out of
reach the error says what the embeddings can reach instead.

>>> target = OperatingTarget(precision=0.7)                     # doctest: +SKIP
>>> curve.points[target.choose(curve)].pair_recall              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from colorvariants.errors import EmbeddingError

# Precisions at which the cost of a target is spelled out ("at precision 0.9 you group 1% of variant pairs").
COST_LEVELS = (0.9, 0.85, 0.7, 0.5)
# Refinement stops when the chosen point's neighbours on the curve are this close in merge rank (ratio).
REFINE_RANK_RATIO = 1.02


@dataclass(frozen=True)
class CurvePoint:
    """Groups at one threshold, measured on the labelled styles."""

    threshold: float
    pair_precision: float
    pair_recall: float
    pair_f1: float
    product_precision: float
    product_recall: float
    n_groups: int


@dataclass
class GroupingCurve:
    """Points by descending threshold (rising recall) and the index of the chosen one (None: not chosen)."""

    method: str
    points: list[CurvePoint]
    chosen: int | None = None
    criterion: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def recall_at(self, precision: float) -> CurvePoint | None:
        """The point with the most pair recall among those with pair precision >= ``precision``."""
        ok = [p for p in self.points if p.pair_precision >= precision]
        return max(ok, key=lambda p: (p.pair_recall, -p.threshold)) if ok else None

    def best_f1(self) -> CurvePoint | None:
        return max(self.points, key=lambda p: (p.pair_f1, -p.threshold)) if self.points else None

    def costs(self, levels: tuple[float, ...] = COST_LEVELS) -> str:
        """``at pair precision 0.9 you group 1.0% of the variant pairs; at 0.7, 30%; 0.5: out of reach``."""
        parts = []
        for i, level in enumerate(levels):
            point = self.recall_at(level)
            head = f"at pair precision {level:g} " if i == 0 else f"at {level:g}, "
            what = (f"you group {point.pair_recall:.1%} of the variant pairs" if i == 0 else
                    f"{point.pair_recall:.1%}") if point else "out of reach"
            parts.append(head + what)
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "criterion": self.criterion, "chosen": self.chosen,
                "points": [asdict(p) for p in self.points], **self.extra,
                "recall_at_precision": {f"{lv:g}": (p.pair_recall if (p := self.recall_at(lv)) else None)
                                        for lv in COST_LEVELS},
                "best_f1": asdict(b) if (b := self.best_f1()) else None}


@dataclass(frozen=True)
class OperatingTarget:
    """How the point is chosen: a target pair precision, a target pair recall, or the best F1."""

    precision: float | None = None
    recall: float | None = None
    best_f1: bool = False

    def __post_init__(self) -> None:
        chosen = sum([self.precision is not None, self.recall is not None, self.best_f1])
        if chosen != 1:
            raise ValueError("choose the operating point by exactly one of precision, recall or best_f1")
        for name in ("precision", "recall"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value <= 1.0:
                raise ValueError(f"target {name} must be in (0, 1]; got {value}")

    def describe(self) -> str:
        if self.best_f1:
            return "best pair F1"
        if self.precision is not None:
            return f"pair precision >= {self.precision:g}, most recall"
        return f"pair recall >= {self.recall:g}, most precision"

    def improves_towards(self) -> tuple[int, ...]:
        """Sides (+1: lower threshold, more recall; -1: higher threshold, more precision) on which a point
        between the chosen one and its neighbour on the curve may fit this target better."""
        if self.best_f1:
            return (-1, 1)
        return (1,) if self.precision is not None else (-1,)

    def choose(self, curve: GroupingCurve) -> int:
        """Index of the chosen point.

        Raises:
            EmbeddingError: no point reaches the target; says what the curve reaches and how to ask for it.
        """
        pts = curve.points
        if not pts:
            raise EmbeddingError(
                "no labelled product pairs to measure grouping on.",
                fix="pass --threshold, or add style_id labels for some styles.",
            )
        idx = np.arange(len(pts))
        if self.best_f1:
            return int(max(idx, key=lambda i: (pts[i].pair_f1, -pts[i].threshold)))
        if self.precision is not None:
            ok = [i for i in idx if pts[i].pair_precision >= self.precision]
            if ok:
                return int(max(ok, key=lambda i: (pts[i].pair_recall, -pts[i].threshold)))
            best = max(pts, key=lambda p: (p.pair_precision, p.pair_recall))
            raise EmbeddingError(
                f"no threshold groups at pair precision {self.precision:g} with {curve.method}: the best is "
                f"{best.pair_precision:.3f} (pair recall {best.pair_recall:.1%}, threshold {best.threshold:.4f}). "
                f"What these embeddings reach: {curve.costs()}.",
                fix="--target-precision with a reachable value, --best-f1, --rerank csls, or a better model.",
            )
        ok = [i for i in idx if pts[i].pair_recall >= float(self.recall or 0.0)]
        if ok:
            return int(max(ok, key=lambda i: (pts[i].pair_precision, pts[i].threshold)))
        top = max(pts, key=lambda p: p.pair_recall)
        raise EmbeddingError(
            f"no threshold groups {self.recall:g} of the variant pairs with {curve.method}: the most is "
            f"{top.pair_recall:.1%} (pair precision {top.pair_precision:.3f}). What these embeddings reach: "
            f"{curve.costs()}.",
            fix="a lower --target-recall, a larger --k, or --best-f1.",
        )


def curve_thresholds(heights: np.ndarray, points: int) -> np.ndarray:
    """Up to ``points`` thresholds, descending, spaced by the log of the rank of the merge heights: dense where
    few pairs are grouped (high precision), where the operating points that matter lie."""
    h = np.sort(np.unique(heights))[::-1]
    if h.size <= points:
        return h
    ranks = np.unique(np.geomspace(1, h.size, points).astype(np.int64) - 1)
    return h[ranks]


def refine(
    curve: GroupingCurve,
    target: OperatingTarget,
    heights: np.ndarray,
    measure_at: Callable[[float], CurvePoint],
    max_cuts: int = 12,
) -> int:
    """Choose the point for ``target``, bisecting the curve around it until the neighbours are fine-grained.

    A coarse curve (few points on a large catalog) steps several-fold in grouped pairs between points, so the
    point chosen on it can sit far from the threshold the target asks for (1M images, 12 points: precision
    1.000 at recall 0.09 where 0.95 was reachable). Each cut halves the merge-rank gap (in log space) between
    the chosen point and a neighbour on the side where the target can improve; it stops when the gap is below
    ``REFINE_RANK_RATIO`` or has no merge height inside, or after ``max_cuts`` cuts. New points are added to
    the curve (kept by descending threshold); returns the chosen index (and sets ``curve.chosen``).

    Raises:
        EmbeddingError: no point of the coarse curve reaches the target (says what is reachable).
    """
    h = np.sort(np.unique(heights))[::-1]  # descending: rank r groups the r+1 highest merges

    def rank(t: float) -> int:
        return int(np.searchsorted(-h, -t, side="left"))

    cuts = 0
    while cuts < max_cuts:
        c = target.choose(curve)  # an unreachable target raises here, with what is reachable
        pts = curve.points
        candidates = []
        for side in target.improves_towards():
            j = c + side
            if not 0 <= j < len(pts):
                continue
            lo, hi = sorted((rank(pts[c].threshold), rank(pts[j].threshold)))
            if hi - lo < 2 or (hi + 1) / (lo + 1) < REFINE_RANK_RATIO:
                continue
            mid = int(round(np.sqrt((lo + 1) * (hi + 1)))) - 1
            mid = min(max(mid, lo + 1), hi - 1)
            candidates.append(((hi + 1) / (lo + 1), mid))
        if not candidates:
            break
        _, mid = max(candidates)
        point = measure_at(float(h[mid]))
        curve.points = sorted([*pts, point], key=lambda p: -p.threshold)
        cuts += 1
    curve.chosen = target.choose(curve)
    return curve.chosen

