"""Parts shared by upper-body garments (tops, dresses, outerwear): torso, sleeves, necklines, closures.

All sizes are in unit-canvas coordinates and chosen to stay visible at 64 px (a trim is ~1.5 px wide there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from colorvariants.data.synth.canvas import Canvas, Point, arc, mirror, mirror_x

NECK_HALF_WIDTH = 0.075
TRIM = 0.026  # width of a contrast trim (≈1.7 px at 64 px)


@dataclass(frozen=True)
class Torso:
    """An upper body: neck line at ``top``; half-widths at shoulder, chest (armpit), hem; hem at ``hem``."""

    top: float
    shoulder: float
    chest: float
    hem_width: float
    hem: float
    sleeveless: bool = False

    def shoulder_point(self) -> Point:
        if self.sleeveless:
            return (0.5 + self.shoulder * 0.72, self.top + 0.01)
        return (0.5 + self.shoulder, self.top + 0.035)

    def armpit(self) -> Point:
        return (0.5 + self.chest, self.top + 0.17)

    def side_x(self, y: float) -> float:
        """Right side of the torso at height ``y`` (between armpit and hem)."""
        ax, ay = self.armpit()
        t = min(max((y - ay) / max(self.hem - ay, 1e-6), 0.0), 1.0)
        return ax + t * (0.5 + self.hem_width - ax)


def torso_outline(t: Torso, hem: str = "straight") -> list[Point]:
    """The torso polygon (right half mirrored). ``hem``: straight, curved (shirt tail) or asymmetric."""
    right: list[Point] = [(0.5, t.top), (0.5 + NECK_HALF_WIDTH, t.top - 0.012), t.shoulder_point()]
    if t.sleeveless:  # a scooped armhole instead of a shoulder seam
        sx, sy = t.shoulder_point()
        right += [(sx - 0.005, sy + 0.06), (sx + 0.01, sy + 0.12)]
    right.append(t.armpit())
    if hem == "curved":
        right.append((0.5 + t.hem_width, t.hem - 0.04))
        right += arc(0.5, t.hem - 0.04, t.hem_width, 0.07, 0, 90, 8)[1:]
        return mirror(right)
    if hem == "asymmetric":
        right.append((0.5 + t.hem_width, t.hem - 0.06))
        left = mirror_x(right)
        left[-1] = (0.5 - t.hem_width, t.hem + 0.05)
        return [*right, *reversed(left)]
    right += [(0.5 + t.hem_width, t.hem), (0.5, t.hem)]
    return mirror(right)


def sleeve_polygon(t: Torso, kind: str, side: int) -> list[Point]:
    """One sleeve (``side`` +1 right, -1 left): short sleeves stand out, long ones hang past the waist."""
    theta, length, width = {"short": (55.0, 0.16, 0.12), "long": (22.0, 0.42, 0.095)}[kind]
    sx, sy = t.shoulder_point()
    a = math.radians(theta)
    d = (math.sin(a), math.cos(a))
    n = (-math.cos(a), math.sin(a))
    e1 = (sx + length * d[0], sy + length * d[1])
    e2 = (e1[0] + width * n[0], e1[1] + width * n[1])
    pts = [(sx, sy), e1, e2, t.armpit()]
    return pts if side > 0 else mirror_x(pts)


def cuff_polygon(t: Torso, kind: str, side: int, depth: float = 0.05) -> list[Point]:
    """The band at the end of a sleeve (a contrast cuff)."""
    s, e1, e2, _ = sleeve_polygon(t, kind, +1)
    dx, dy = e1[0] - s[0], e1[1] - s[1]
    norm = math.hypot(dx, dy)
    back = (dx / norm * depth, dy / norm * depth)
    pts = [e1, e2, (e2[0] - back[0], e2[1] - back[1]), (e1[0] - back[0], e1[1] - back[1])]
    return pts if side > 0 else mirror_x(pts)


def draw_sleeves(c: Canvas, t: Torso, kind: str, cuffs: bool = False) -> None:
    """Sleeves of ``kind`` none/short/long on both sides, with contrast cuffs when asked."""
    if kind not in ("short", "long"):
        return
    for side in (1, -1):
        pts = sleeve_polygon(t, kind, side)
        c.polygon("fabric", pts)
        c.stroke("seams", [pts[0], pts[3]], 0.008)  # the armhole seam
        if cuffs:
            c.polygon("accent", cuff_polygon(t, kind, side))


def draw_neckline(c: Canvas, t: Torso, kind: str) -> None:
    """A neckline: crew, v, square, collar (shirt), hood, stand, funnel or lapels; trims in accent colour."""
    nw, top = NECK_HALF_WIDTH, t.top
    if kind == "crew":
        lower = arc(0.5, top - 0.01, nw, 0.06, 0, 180, 12)
        c.polygon("seams", lower, fill=130)  # the inside of the back shows through the opening
        c.stroke("accent", lower, TRIM)
    elif kind == "v":
        vee = [(0.5 - nw, top - 0.012), (0.5, top + 0.15), (0.5 + nw, top - 0.012)]
        c.polygon("seams", vee, fill=130)
        c.stroke("accent", vee, TRIM)
    elif kind == "square":
        sq = [(0.5 - nw - 0.01, top - 0.01), (0.5 - nw - 0.01, top + 0.09), (0.5 + nw + 0.01, top + 0.09),
              (0.5 + nw + 0.01, top - 0.01)]
        c.polygon("seams", sq, fill=130)
        c.stroke("accent", sq, TRIM)
    elif kind == "collar":
        lower = arc(0.5, top - 0.01, nw, 0.04, 0, 180, 8)
        c.polygon("seams", lower, fill=130)
        flap = [(0.5 + 0.005, top + 0.035), (0.5 + nw + 0.015, top - 0.02), (0.5 + nw + 0.045, top + 0.05),
                (0.5 + 0.03, top + 0.12)]
        c.polygon("accent", flap)
        c.polygon("accent", mirror_x(flap))
    elif kind == "hood":
        c.ellipse("fabric", 0.5, top - 0.06, 0.115, 0.105)
        c.ellipse("seams", 0.5, top - 0.045, 0.075, 0.075, fill=150)
        c.stroke("accent", arc(0.5, top - 0.045, 0.075, 0.075, 180, 360, 14), TRIM * 0.8)
        for dx in (-0.03, 0.03):  # drawstrings
            c.stroke("accent", [(0.5 + dx, top + 0.02), (0.5 + dx * 1.2, top + 0.14)], TRIM * 0.8)
    elif kind == "stand":
        c.polygon("accent", [(0.5 - nw - 0.01, top - 0.05), (0.5 + nw + 0.01, top - 0.05),
                             (0.5 + nw + 0.015, top + 0.01), (0.5 - nw - 0.015, top + 0.01)])
    elif kind == "funnel":
        c.polygon("fabric", [(0.5 - nw - 0.03, top - 0.1), (0.5 + nw + 0.03, top - 0.1),
                             (0.5 + nw + 0.05, top + 0.02), (0.5 - nw - 0.05, top + 0.02)])
        c.stroke("accent", [(0.5 - nw - 0.03, top - 0.1), (0.5 + nw + 0.03, top - 0.1)], TRIM)
        c.stroke("seams", [(0.5 - nw - 0.05, top + 0.02), (0.5 + nw + 0.05, top + 0.02)], 0.01)
    elif kind == "lapels":
        vee = [(0.5 - nw, top - 0.012), (0.5, top + 0.2), (0.5 + nw, top - 0.012)]
        c.polygon("seams", vee, fill=130)
        lapel = [(0.5 + nw, top - 0.012), (0.5 + nw + 0.06, top + 0.06), (0.5 + nw + 0.03, top + 0.075),
                 (0.5 + nw + 0.045, top + 0.1), (0.5 + 0.005, top + 0.21)]
        c.polygon("accent", lapel)
        c.polygon("accent", mirror_x(lapel))
    else:
        raise ValueError(f"unknown neckline {kind!r}")


def draw_buttons(c: Canvas, x: float, y0: float, y1: float, count: int, r: float = 0.02) -> None:
    """A column of ``count`` accent buttons on a placket seam from y0 to y1."""
    c.stroke("seams", [(x - 0.022, y0), (x - 0.022, y1)], 0.008)
    for k in range(count):
        y = y0 + (k + 0.5) * (y1 - y0) / count
        c.ellipse("accent", x, y, r)


def draw_zip(c: Canvas, x: float, y0: float, y1: float) -> None:
    """A contrast zip tape with its pull."""
    c.stroke("accent", [(x, y0), (x, y1)], TRIM * 0.9)
    c.rect("accent", x - 0.015, y0 + 0.01, x + 0.015, y0 + 0.06)


def band(c: Canvas, t: Torso, y0: float, y1: float, layer: str = "accent") -> None:
    """A horizontal band across the torso between heights y0 and y1 (waistband, belt, hem band)."""
    x0, x1 = t.side_x(y0), t.side_x(y1)
    c.polygon(layer, [(1.0 - x0, y0), (x0, y0), (x1, y1), (1.0 - x1, y1)])
