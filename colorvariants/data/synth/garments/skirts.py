"""Skirts: shape, length, hem, front and waistband are the design details."""

from __future__ import annotations

from collections.abc import Mapping

from colorvariants.data.synth.canvas import Canvas, Point, arc
from colorvariants.data.synth.garments.parts import draw_buttons

AXES: dict[str, tuple[str, ...]] = {
    "shape": ("pencil", "a-line", "circle", "tiered"),
    "length": ("mini", "knee", "maxi"),
    "hem": ("straight", "curved", "zigzag", "asymmetric"),
    "front": ("none", "buttons", "slit"),
    "waist": ("band", "wide-band"),
}
WAIST_Y, WAIST_HALF = 0.12, 0.15
HEM_Y = {"mini": 0.5, "knee": 0.7, "maxi": 0.92}
HEM_HALF = {"pencil": 0.17, "a-line": 0.26, "circle": 0.36, "tiered": 0.3}


def _hem(x_half: float, y: float, hem: str) -> list[Point]:
    if hem == "curved":
        return arc(0.5, y - 0.04, x_half, 0.08, 0, 180, 14)
    if hem == "zigzag":
        n = 8
        return [(0.5 + x_half - 2 * x_half * k / n, y + (0.05 if k % 2 else 0.0)) for k in range(n + 1)]
    if hem == "asymmetric":
        return [(0.5 + x_half, y - 0.08), (0.5 - x_half, y + 0.05)]
    return [(0.5 + x_half, y), (0.5 - x_half, y)]


def draw(c: Canvas, d: Mapping[str, str], p: Mapping[str, float]) -> None:
    """Draw a skirt front-on; tiers widen in steps, a slit is cut into the hem."""
    hem = HEM_Y[d["length"]]
    x_half = HEM_HALF[d["shape"]]
    if d["shape"] == "tiered":
        tiers = 3
        for k in range(tiers):
            y0 = WAIST_Y + (hem - WAIST_Y) * k / tiers
            y1 = WAIST_Y + (hem - WAIST_Y) * (k + 1) / tiers
            w0 = WAIST_HALF + (x_half - WAIST_HALF) * k / tiers - (0.02 if k else 0.0)
            w1 = WAIST_HALF + (x_half - WAIST_HALF) * (k + 1) / tiers
            bottom = _hem(w1, y1, d["hem"]) if k == tiers - 1 else [(0.5 + w1, y1), (0.5 - w1, y1)]
            c.polygon("fabric", [(0.5 - w0, y0), (0.5 + w0, y0), *bottom])
            if k:
                c.stroke("seams", [(0.5 - w0, y0), (0.5 + w0, y0)], 0.012)
    else:
        hip = min(x_half, 0.185)
        body = [(0.5 - WAIST_HALF, WAIST_Y), (0.5 + WAIST_HALF, WAIST_Y), (0.5 + hip, WAIST_Y + 0.14),
                *_hem(x_half, hem, d["hem"]), (0.5 - hip, WAIST_Y + 0.14)]
        c.polygon("fabric", body)
    depth = 0.07 if d["waist"] == "wide-band" else 0.035
    c.rect("accent", 0.5 - WAIST_HALF, WAIST_Y, 0.5 + WAIST_HALF, WAIST_Y + depth)
    if d["front"] == "buttons":
        draw_buttons(c, 0.5, WAIST_Y + depth + 0.01, hem - 0.04, max(3, round((hem - WAIST_Y) / 0.1)))
    elif d["front"] == "slit":
        c.erase([(0.5 + 0.03, hem + 0.1), (0.5 + 0.11, hem + 0.1), (0.5 + 0.07, hem - 0.2)])
        c.stroke("seams", [(0.5 + 0.07, hem - 0.2), (0.5 + 0.07, hem - 0.25)], 0.01)
    c.set_anchor(0.5, WAIST_Y + 0.1 + 0.3 * (hem - WAIST_Y), 0.09)
