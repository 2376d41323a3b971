"""Trousers and shorts: leg shape, length, pockets, waistband and cuffs are the design details."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from colorvariants.data.synth.canvas import Canvas, Point, mirror_x

AXES: dict[str, tuple[str, ...]] = {
    "leg": ("skinny", "straight", "wide", "flare"),
    "length": ("full", "cropped", "shorts"),
    "pockets": ("none", "slant", "cargo"),
    "waist": ("plain", "band", "drawstring"),
    "cuffs": ("none", "turn-up"),
}
WAIST_Y, HIP_Y, CROTCH_Y = 0.08, 0.28, 0.4
HEM_Y = {"full": 0.93, "cropped": 0.78, "shorts": 0.52}
# Offsets from the centre line of the outer and inner leg edge at (hip, knee, hem) heights.
LEG: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "skinny": ((0.19, 0.15, 0.13), (0.0, 0.05, 0.05)),
    "straight": ((0.19, 0.19, 0.19), (0.0, 0.03, 0.03)),
    "wide": ((0.2, 0.24, 0.28), (0.0, 0.012, 0.005)),
    "flare": ((0.19, 0.16, 0.26), (0.0, 0.05, 0.005)),
}


def _edge(y: float, xs: tuple[float, float, float]) -> float:
    return float(np.interp(y, [HIP_Y, 0.65, 0.93], xs))


def draw(c: Canvas, d: Mapping[str, str], p: Mapping[str, float]) -> None:
    """Draw trousers front-on: one polygon for both legs, then waistband, fly, pockets and cuffs."""
    hem = HEM_Y[d["length"]]
    outer, inner = LEG[d["leg"]]
    xo = _edge(hem, outer)
    xi = max(_edge(hem, inner), 0.012)
    right: list[Point] = [(0.5, WAIST_Y), (0.5 + 0.17, WAIST_Y), (0.5 + outer[0], HIP_Y)]
    if hem > 0.65:
        right.append((0.5 + outer[1], 0.65))
    right += [(0.5 + xo, hem), (0.5 + xi, hem)]
    if hem > 0.65:
        right.append((0.5 + max(inner[1], 0.012), 0.65))
    right.append((0.5, CROTCH_Y))
    left = mirror_x(right[1:-1])
    c.polygon("fabric", [*right, *reversed(left)])
    c.stroke("seams", [(0.5, WAIST_Y + 0.05), (0.5, CROTCH_Y - 0.03)], 0.008)  # fly seam
    fly = [(0.5 + 0.03, WAIST_Y + 0.05), (0.5 + 0.03, CROTCH_Y - 0.07), (0.5, CROTCH_Y - 0.03)]
    c.stroke("seams", fly, 0.008)
    if d["waist"] == "plain":
        c.stroke("seams", [(0.5 - 0.17, WAIST_Y + 0.045), (0.5 + 0.17, WAIST_Y + 0.045)], 0.01)
    else:
        c.rect("accent", 0.5 - 0.17, WAIST_Y, 0.5 + 0.17, WAIST_Y + 0.05)
        if d["waist"] == "drawstring":
            for side in (1, -1):
                string = [(0.5 + side * 0.02, WAIST_Y + 0.04), (0.5 + side * 0.035, WAIST_Y + 0.17)]
                c.stroke("accent", string, 0.02)
    for side in (1, -1):
        if d["pockets"] == "slant":
            opening = [(0.5 + side * 0.1, WAIST_Y + 0.05), (0.5 + side * 0.18, WAIST_Y + 0.17)]
            c.stroke("accent", opening, 0.024)
        elif d["pockets"] == "cargo":
            y0 = 0.3 if d["length"] == "shorts" else 0.44
            cx = 0.5 + side * (0.135 if d["leg"] != "skinny" else 0.115)
            c.rect("accent", cx - 0.055, y0, cx + 0.055, y0 + 0.13)
            c.stroke("seams", [(cx - 0.055, y0 + 0.035), (cx + 0.055, y0 + 0.035)], 0.01)
        if d["cuffs"] == "turn-up":
            pts = [(0.5 + side * xo, hem), (0.5 + side * xi, hem), (0.5 + side * (xi - 0.004), hem - 0.05),
                   (0.5 + side * (_edge(hem - 0.05, outer) + 0.004), hem - 0.05)]
            c.polygon("accent", pts)
    c.set_anchor(0.5 - 0.1, 0.3, 0.07)
