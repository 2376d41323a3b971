"""Dresses: sleeves (or straps), neckline, skirt shape, length, waist and hem are the design details."""

from __future__ import annotations

from collections.abc import Mapping

from colorvariants.data.synth.canvas import Canvas, Point, arc
from colorvariants.data.synth.garments.parts import Torso, band, draw_neckline, draw_sleeves, torso_outline

AXES: dict[str, tuple[str, ...]] = {
    "sleeves": ("straps", "sleeveless", "short", "long"),
    "neckline": ("crew", "v", "square"),
    "skirt": ("straight", "a-line", "flared"),
    "length": ("mini", "midi"),
    "waist": ("none", "belt"),
    "hem": ("straight", "zigzag", "asymmetric"),
}
WAIST_Y = 0.40
HEM_Y = {"mini": 0.7, "midi": 0.9}
HEM_HALF = {"straight": 0.15, "a-line": 0.24, "flared": 0.32}


def hem_points(x_half: float, y: float, hem: str, flared: bool) -> list[Point]:
    """The hem from the right side to the left side."""
    if hem == "zigzag":
        n = 8
        return [(0.5 + x_half - 2 * x_half * k / n, y + (0.045 if k % 2 else 0.0)) for k in range(n + 1)]
    if hem == "asymmetric":
        return [(0.5 + x_half, y - 0.07), (0.5 - x_half, y + 0.05)]
    if flared:
        return arc(0.5, y - 0.03, x_half, 0.06, 0, 180, 12)
    return [(0.5 + x_half, y), (0.5 - x_half, y)]


def draw(c: Canvas, d: Mapping[str, str], p: Mapping[str, float]) -> None:
    """Draw a dress: bodice (a short torso), skirt panel, sleeves or straps, neckline and waist."""
    hem_y = HEM_Y[d["length"]]
    straps = d["sleeves"] == "straps"
    top = 0.19 if straps else 0.12
    t = Torso(top=top, shoulder=0.15, chest=0.13, hem_width=0.115, hem=WAIST_Y,
              sleeveless=d["sleeves"] in ("straps", "sleeveless"))
    draw_sleeves(c, t, d["sleeves"])
    if straps:
        bodice = [(0.37, top), (0.63, top), (0.5 + t.chest, top + 0.17), (0.5 + t.hem_width, WAIST_Y),
                  (0.5 - t.hem_width, WAIST_Y), (0.5 - t.chest, top + 0.17)]
        c.polygon("fabric", bodice)
        for side in (1, -1):
            c.stroke("accent", [(0.5 + side * 0.1, top + 0.01), (0.5 + side * 0.085, top - 0.12)], 0.024)
    else:
        c.polygon("fabric", torso_outline(t))
    x_half = HEM_HALF[d["skirt"]]
    skirt = [(0.5 - t.hem_width, WAIST_Y - 0.01), (0.5 + t.hem_width, WAIST_Y - 0.01),
             *hem_points(x_half, hem_y, d["hem"], d["skirt"] == "flared")]
    c.polygon("fabric", skirt)
    c.stroke("seams", [(0.5 - t.hem_width, WAIST_Y), (0.5 + t.hem_width, WAIST_Y)], 0.008)
    if d["neckline"] != "crew" or not straps:
        draw_neckline(c, t, d["neckline"])
    else:
        c.stroke("accent", [(0.5 - 0.13, top), (0.5 + 0.13, top)], 0.026)
    if d["waist"] == "belt":
        band(c, t, WAIST_Y - 0.04, WAIST_Y + 0.005)
        y0, y1 = WAIST_Y - 0.04, WAIST_Y + 0.005
        buckle = [(0.47, y0), (0.53, y0), (0.53, y1), (0.47, y1)]
        c.outline("seams", buckle, 0.012)
    c.set_anchor(0.5, top + 0.15 if straps else 0.3, 0.08)
