"""Coats and jackets: length, collar, closure, pockets, belt and cuffs are the design details."""

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
    "length": ("cropped", "hip", "long"),
    "collar": ("lapels", "hood", "stand", "funnel"),
    "closure": ("zip", "single", "double"),
    "pockets": ("none", "flap", "patch"),
    "belt": ("none", "belt"),
    "cuffs": ("plain", "contrast"),
}
HEM = {"cropped": (0.6, 0.175), "hip": (0.74, 0.19), "long": (0.93, 0.23)}  # hem height and half-width


def draw(c: Canvas, d: Mapping[str, str], p: Mapping[str, float]) -> None:
    """Draw a coat front-on with long sleeves; closure, pockets and belt on top."""
    hem, hem_half = HEM[d["length"]]
    top = 0.2
    t = Torso(top=top, shoulder=0.19, chest=0.175, hem_width=hem_half, hem=hem)
    draw_sleeves(c, t, "long", cuffs=d["cuffs"] == "contrast")
    c.polygon("fabric", torso_outline(t))
    draw_neckline(c, t, d["collar"])
    start = top + (0.22 if d["collar"] == "lapels" else 0.03)
    if d["closure"] == "zip":
        draw_zip(c, 0.5, start, hem - 0.01)
    elif d["closure"] == "single":
        draw_buttons(c, 0.5, start, hem - 0.04, 4, r=0.022)
    else:
        for dx in (-0.045, 0.045):
            draw_buttons(c, 0.5 + dx, start, min(hem - 0.04, start + 0.34), 3, r=0.022)
    if d["pockets"] != "none":
        y0 = hem - (0.2 if d["pockets"] == "patch" else 0.16)
        y1 = hem - (0.06 if d["pockets"] == "patch" else 0.115)
        for side in (1, -1):
            x0, x1 = sorted((0.5 + side * 0.075, 0.5 + side * 0.165))
            c.rect("accent", x0, y0, x1, y1)
    if d["belt"] == "belt":
        yb = top + 0.3
        band(c, t, yb - 0.025, yb + 0.025)
        c.outline("seams", [(0.47, yb - 0.03), (0.53, yb - 0.03), (0.53, yb + 0.03), (0.47, yb + 0.03)], 0.01)
    c.set_anchor(0.5 - 0.09, top + 0.14, 0.065)
