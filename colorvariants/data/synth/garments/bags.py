"""Bags: body shape, handle, flap and hardware are the design details."""

from __future__ import annotations

from collections.abc import Mapping

from colorvariants.data.synth.canvas import Canvas, Point, arc

AXES: dict[str, tuple[str, ...]] = {
    "body": ("tote", "box", "round", "bucket", "saddle"),
    "handle": ("double", "single", "strap"),
    "flap": ("none", "flap", "zip"),
    "hardware": ("none", "clasp", "pocket"),
}


def body_outline(kind: str) -> tuple[list[Point], float, float, float]:
    """The body polygon, its top height, its top half-width and its bottom height."""
    if kind == "tote":
        return [(0.24, 0.38), (0.76, 0.38), (0.71, 0.86), (0.29, 0.86)], 0.38, 0.26, 0.86
    if kind == "box":
        return [(0.28, 0.42), (0.72, 0.42), (0.75, 0.45), (0.75, 0.83), (0.72, 0.86), (0.28, 0.86),
                (0.25, 0.83), (0.25, 0.45)], 0.42, 0.22, 0.86
    if kind == "round":
        return arc(0.5, 0.62, 0.25, 0.25, 0, 360, 40), 0.4, 0.17, 0.87
    if kind == "bucket":
        return [(0.32, 0.38), (0.68, 0.38), *arc(0.5, 0.7, 0.24, 0.17, -25, 205, 20)], 0.38, 0.18, 0.87
    if kind == "saddle":
        return [(0.26, 0.42), (0.74, 0.42), *arc(0.5, 0.42, 0.24, 0.44, 0, 180, 20)], 0.42, 0.24, 0.86
    raise ValueError(f"unknown bag body {kind!r}")


def draw(c: Canvas, d: Mapping[str, str], p: Mapping[str, float]) -> None:
    """Draw a bag front-on: handles behind the body, then the body, flap and hardware."""
    outline, top, half, bottom = body_outline(d["body"])
    if d["handle"] == "double":
        for dx, lift in ((0.0, 0.2), (0.035, 0.17)):
            c.stroke("accent", arc(0.5 + dx, top, 0.14, lift, 180, 360, 16), 0.026)
    elif d["handle"] == "single":
        c.stroke("accent", arc(0.5, top + 0.01, 0.1, 0.22, 180, 360, 16), 0.042)
    else:
        c.stroke("accent", [(0.5 - half + 0.03, top + 0.01), (0.5 - 0.05, 0.05)], 0.024)
        c.stroke("accent", [(0.5 + half - 0.03, top + 0.01), (0.5 + 0.05, 0.05)], 0.024)
    c.polygon("fabric", outline)
    mid = top + 0.42 * (bottom - top)
    if d["flap"] == "flap":
        y = top + 0.33 * (bottom - top)
        c.polygon("accent", [(0.5 - half, top), (0.5 + half, top), (0.5 + half - 0.01, y), (0.5, y + 0.07),
                             (0.5 - half + 0.01, y)])
    elif d["flap"] == "zip":
        c.stroke("accent", [(0.5 - half + 0.03, top + 0.035), (0.5 + half - 0.03, top + 0.035)], 0.024)
        c.rect("accent", 0.5 + half - 0.08, top + 0.035, 0.5 + half - 0.055, top + 0.1)
    if d["hardware"] == "clasp":
        c.rect("accent", 0.455, mid + 0.04, 0.545, mid + 0.11)
        clasp = [(0.455, mid + 0.04), (0.545, mid + 0.04), (0.545, mid + 0.11), (0.455, mid + 0.11)]
        c.outline("seams", clasp, 0.012)
    elif d["hardware"] == "pocket":
        c.rect("accent", 0.38, mid + 0.1, 0.62, bottom - 0.06)
    c.set_anchor(0.5, mid + 0.05, 0.1)
