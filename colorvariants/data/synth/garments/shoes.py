"""Shoes in side view (toe to the right): height, heel, toe, fastening and sole are the design details."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from colorvariants.data.synth.canvas import Canvas, Point, bezier

AXES: dict[str, tuple[str, ...]] = {
    "height": ("low", "mid", "high"),
    "heel": ("flat", "block", "stiletto"),
    "toe": ("round", "pointed"),
    "fastening": ("laces", "strap", "slip-on"),
    "sole": ("thin", "chunky"),
}
GROUND, BACK, BALL = 0.72, 0.12, 0.6
HEEL_H = {"flat": 0.0, "block": 0.11, "stiletto": 0.16}
SHAFT = {"low": 0.0, "mid": 0.1, "high": 0.26}


def draw(c: Canvas, d: Mapping[str, str], p: Mapping[str, float]) -> None:
    """Draw one shoe flat on the ground, then lift its back by the heel height (a shear behind the ball)."""
    hh = HEEL_H[d["heel"]]
    st = 0.075 if d["sole"] == "chunky" else 0.035
    toe_x = 0.92 if d["toe"] == "pointed" else 0.87
    shaft = SHAFT[d["height"]]

    def lift(points: Sequence[Point]) -> list[Point]:
        return [(x, y - hh * float(np.clip((BALL - x) / (BALL - BACK), 0.0, 1.0))) for x, y in points]

    top = GROUND - st  # where the upper meets the sole
    rear = top - 0.2 - shaft
    if shaft:  # a boot: the shaft rises straight, its front meets the instep
        tongue = (0.38, rear + 0.01)
        collar = [(BACK + 0.02, rear), tongue, (0.4, top - 0.2)]
        vamp_start = (0.4, top - 0.2)
    else:  # the collar dips at the ankle and rises to the tongue
        tongue = (0.4, rear + 0.005)
        collar = [*bezier((BACK + 0.02, rear), (0.26, rear + 0.07), (0.34, rear + 0.045), 6), tongue]
        vamp_start = tongue
    if d["toe"] == "pointed":
        toe = [*bezier(vamp_start, (0.52, top - 0.12), (0.68, top - 0.09), 6),
               *bezier((0.68, top - 0.09), (0.84, top - 0.05), (toe_x, top - 0.005), 6)]
    else:
        toe = [*bezier(vamp_start, (0.5, top - 0.15), (0.66, top - 0.125), 6),
               *bezier((0.66, top - 0.125), (toe_x + 0.005, top - 0.12), (toe_x, top - 0.01), 8)]
    upper: list[Point] = [(BACK + 0.01, top + 0.005), (BACK - 0.015, top - 0.08), *collar, *toe,
                          (toe_x - 0.02, top + 0.005)]
    c.polygon("fabric", lift(upper))
    # The opening shows the lining (darker); the heel counter and toe cap are stitched on.
    rim = bezier((0.24, rear + 0.06), (0.3, rear + 0.06), (tongue[0] - 0.02, tongue[1] + 0.03), 4)
    lining = [(BACK + 0.025, rear + 0.01), *rim, (0.2, rear + 0.08), (BACK + 0.025, rear + 0.05)]
    c.polygon("seams", lift(lining), fill=170)
    c.stroke("seams", lift([(0.27, top), (0.29, top - 0.1), (0.34, rear + 0.08)]), 0.009)
    c.stroke("seams", lift(bezier((0.62, top), (0.6, top - 0.08), (0.66, top - 0.115), 5)), 0.009)
    sole = [(BACK - 0.005, top), (toe_x - 0.01, top), (toe_x + 0.005, top + st * 0.4), (toe_x - 0.03, GROUND),
            (BACK + 0.02, GROUND), (BACK - 0.01, GROUND - st * 0.4)]
    c.polygon("accent", lift(sole))
    if hh > 0:
        width = 0.12 if d["heel"] == "block" else 0.075
        tip = 0.1 if d["heel"] == "block" else 0.018
        heel_top = lift([(BACK, top), (BACK + width, top)])
        c.polygon("accent", [*heel_top, (BACK + 0.02 + tip, GROUND), (BACK + 0.02, GROUND)])
    x0, y0 = tongue[0] - 0.015, tongue[1] + 0.04
    x1, y1 = 0.56, top - 0.12
    if d["fastening"] == "laces":  # short crossings perpendicular to the lacing line
        norm = float(np.hypot(x1 - x0, y1 - y0))
        px, py = -(y1 - y0) / norm * 0.04, (x1 - x0) / norm * 0.04
        n = 4 if shaft < 0.2 else 6
        for k in range(n):
            f = (k + 0.5) / n
            x, y = x0 + f * (x1 - x0), y0 + f * (y1 - y0)
            c.stroke("accent", lift([(x - px, y - py), (x + px, y + py)]), 0.022)
    elif d["fastening"] == "strap":
        xm = (x0 + x1) / 2
        ym = (y0 + y1) / 2
        strap = [(xm - 0.02, ym - 0.015), (xm + 0.035, ym), (xm - 0.02, top), (xm - 0.075, top)]
        c.polygon("accent", lift(strap))
        c.rect("seams", xm - 0.07, top - 0.06, xm - 0.04, top - 0.02)
    else:  # slip-on: an elastic gore in the side
        gore = [(x0 - 0.01, y0 + 0.02), (x0 + 0.04, y0 + 0.02), (x0 + 0.015, y0 + 0.12)]
        c.polygon("seams", lift(gore), fill=200)
    ((ax, ay),) = lift([(0.205, top - 0.09 - shaft * 0.5)])  # on the quarter, clear of laces and straps
    c.set_anchor(ax, ay, 0.065)
