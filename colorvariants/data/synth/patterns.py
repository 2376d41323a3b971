"""Prints on the fabric: stripes, checks, dots, chevrons, a printed motif, colour-blocking or solid.

A print is a boolean field over the unit canvas ("pattern colour here"), so it depends on the design alone and
is identical for every colour variant. Periods are sized to survive downsampling to 64 px (CPU training size):
the small scale repeats about every 5.8 px there, the large about every 9.6 px.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PIL import Image, ImageDraw

from colorvariants.data.synth.canvas import Anchor

PATTERN_AXES: dict[str, tuple[str, ...]] = {
    "pattern": ("solid", "stripes", "checks", "dots", "chevrons", "motif", "colour-block"),
    "pattern_scale": ("small", "large"),
    "stripe_angle": ("horizontal", "vertical", "diagonal"),
    "motif": ("star", "heart", "ring", "triangle", "cross", "bars"),
    "block": ("top", "side", "diagonal", "hem"),
}
# Drawing weights of the pattern kinds (solids are the most common garments).
PATTERN_WEIGHTS: dict[str, float] = {
    "solid": 0.2,
    "stripes": 0.16,
    "checks": 0.12,
    "dots": 0.12,
    "chevrons": 0.1,
    "motif": 0.15,
    "colour-block": 0.15,
}
PERIOD = {"small": 0.09, "large": 0.15}  # unit-canvas repeat of the print


def relevant_pattern_axes(details: Mapping[str, str]) -> tuple[str, ...]:
    """The pattern axes whose value changes the picture for this design (a solid has no scale)."""
    kind = details["pattern"]
    axes = ["pattern"]
    if kind in ("stripes", "checks", "dots", "chevrons"):
        axes.append("pattern_scale")
    if kind in ("stripes", "chevrons"):
        axes.append("stripe_angle")
    if kind == "motif":
        axes.append("motif")
    if kind == "colour-block":
        axes.append("block")
    return tuple(axes)


def pattern_field(
    details: Mapping[str, str],
    params: Mapping[str, float],
    px: int,
    anchor: Anchor,
    bbox: tuple[float, ...],
    zoom: float = 1.0,
) -> np.ndarray:
    """Boolean (px, px): True where the fabric shows the pattern colour.

    Args:
        details: the design's categorical choices (``pattern``, ``pattern_scale``, ...).
        params: continuous choices; ``pattern_dx``/``pattern_dy`` shift the print's phase (siblings share it).
        px: raster side.
        anchor: where a motif sits.
        bbox: the garment's box ``(x0, y0, x1, y1)`` in unit coordinates (colour-blocks split relative to it).
        zoom: the drawing's framing zoom; the print zooms with the garment (a close-up shows bigger stripes).
    """
    kind = details["pattern"]
    if kind == "solid":
        return np.zeros((px, px), dtype=bool)
    if kind == "motif":
        return _motif(details["motif"], px, anchor)
    c = (np.arange(px, dtype=np.float32) + 0.5) / px
    u, v = np.meshgrid(c, c)
    if kind == "colour-block":
        return _block(details["block"], u, v, bbox, params.get("block_at", 0.5))
    p = PERIOD[details["pattern_scale"]] * zoom
    u = u / p + params.get("pattern_dx", 0.0)
    v = v / p + params.get("pattern_dy", 0.0)
    if kind in ("stripes", "chevrons") and details["stripe_angle"] == "vertical":
        u, v = v, u
    elif kind in ("stripes", "chevrons") and details["stripe_angle"] == "diagonal":
        u, v = (u - v) * 0.7071, (u + v) * 0.7071
    if kind == "stripes":
        return (v % 1.0) < 0.5
    if kind == "chevrons":
        zig = np.abs((u % 1.0) - 0.5)  # a triangle wave across the stripes
        return ((v + zig) % 1.0) < 0.5
    if kind == "checks":
        return ((np.floor(u) + np.floor(v)) % 2) == 1
    if kind == "dots":
        row = np.floor(v / 0.866)
        uu = u + 0.5 * (row % 2)
        dx = (uu % 1.0) - 0.5
        dy = ((v / 0.866) % 1.0 - 0.5) * 0.866
        return dx * dx + dy * dy < 0.29 * 0.29
    raise ValueError(f"unknown pattern {kind!r}")


def _block(layout: str, u: np.ndarray, v: np.ndarray, bbox: tuple[float, ...], at: float) -> np.ndarray:
    x0, y0, x1, y1 = bbox
    gu = (u - x0) / max(x1 - x0, 1e-6)
    gv = (v - y0) / max(y1 - y0, 1e-6)
    if layout == "top":
        return gv < at
    if layout == "side":
        return np.abs(gu - 0.5) > 0.28
    if layout == "diagonal":
        return gu + gv > 2 * at
    if layout == "hem":
        return gv > 0.55 + 0.25 * at
    raise ValueError(f"unknown colour-block layout {layout!r}")


def _motif(name: str, px: int, a: Anchor) -> np.ndarray:
    img = Image.new("L", (px, px), 0)
    draw = ImageDraw.Draw(img)

    def pts(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(x * px, y * px) for x, y in points]

    x, y, r = a.x, a.y, a.r
    if name == "star":
        ang = np.radians(np.arange(10) * 36.0 - 90.0)
        rad = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        draw.polygon(pts(list(zip(x + rad * np.cos(ang), y + rad * np.sin(ang), strict=True))), fill=255)
    elif name == "heart":
        draw.ellipse(pts([(x - r, y - 0.75 * r), (x, y + 0.15 * r)]), fill=255)
        draw.ellipse(pts([(x, y - 0.75 * r), (x + r, y + 0.15 * r)]), fill=255)
        draw.polygon(pts([(x - 0.97 * r, y - 0.15 * r), (x + 0.97 * r, y - 0.15 * r), (x, y + r)]), fill=255)
    elif name == "ring":
        draw.ellipse(pts([(x - r, y - r), (x + r, y + r)]), fill=255)
        draw.ellipse(pts([(x - 0.55 * r, y - 0.55 * r), (x + 0.55 * r, y + 0.55 * r)]), fill=0)
    elif name == "triangle":
        draw.polygon(pts([(x, y - r), (x + r, y + 0.8 * r), (x - r, y + 0.8 * r)]), fill=255)
    elif name == "cross":
        w = 0.32 * r
        draw.polygon(pts([(x - w, y - r), (x + w, y - r), (x + w, y + r), (x - w, y + r)]), fill=255)
        draw.polygon(pts([(x - r, y - w), (x + r, y - w), (x + r, y + w), (x - r, y + w)]), fill=255)
    elif name == "bars":  # a three-stripe logo
        for k in (-1, 0, 1):
            cx = x + k * 0.62 * r
            top = y - r + abs(k) * 0.5 * r
            x0, x1 = cx - 0.2 * r, cx + 0.2 * r
            draw.polygon(pts([(x0, y + r), (x1, y + r), (x1, top), (x0, top)]), fill=255)
    else:
        raise ValueError(f"unknown motif {name!r}")
    return np.asarray(img) > 127
