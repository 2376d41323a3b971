"""Tops (t-shirts, shirts, hoodies): sleeves, neckline, hem, pocket and closure are the design details."""

from __future__ import annotations

from collections.abc import Mapping

from colorvariants.data.synth.canvas import Canvas
from colorvariants.data.synth.garments.parts import (
    Torso,
    band,
    draw_buttons,
    draw_neckline,
    draw_sleeves,
    draw_zip,
    torso_outline,
)

AXES: dict[str, tuple[str, ...]] = {
    "sleeves": ("sleeveless", "short", "long"),
    "neckline": ("crew", "v", "collar", "hood"),
    "hem": ("straight", "curved", "banded"),
    "pocket": ("none", "chest", "kangaroo"),
    "closure": ("none", "buttons", "zip"),
}


def draw(c: Canvas, d: Mapping[str, str], p: Mapping[str, float]) -> None:
    """Draw a top in flat-lay: torso, sleeves, neckline trim, then pockets and closure on top."""
    sleeveless = d["sleeves"] == "sleeveless"
    t = Torso(top=0.22, shoulder=0.17, chest=0.155, hem_width=0.165, hem=0.8, sleeveless=sleeveless)
    draw_sleeves(c, t, d["sleeves"])
    c.polygon("fabric", torso_outline(t, "curved" if d["hem"] == "curved" else "straight"))
    if d["hem"] == "banded":
        band(c, t, t.hem - 0.055, t.hem)
    draw_neckline(c, t, d["neckline"])
    if d["pocket"] == "chest":
        c.rect("accent", 0.5 + 0.04, t.top + 0.15, 0.5 + 0.135, t.top + 0.26)
    elif d["pocket"] == "kangaroo":
        y0, y1 = t.hem - 0.24, t.hem - 0.075
        c.polygon("accent", [(0.4, y0), (0.6, y0), (0.64, y1), (0.36, y1)])
    start = t.top + (0.16 if d["neckline"] == "v" else 0.04)
    if d["closure"] == "buttons":
        draw_buttons(c, 0.5, start, t.hem - 0.03, 5)
    elif d["closure"] == "zip":
        draw_zip(c, 0.5, start, t.hem - 0.01)
    c.set_anchor(0.5 - 0.06 if d["closure"] != "none" else 0.5, t.top + 0.25, 0.1)
