"""``Canvas``: the drawing surface of one design, in unit coordinates, with one layer per colour role.

Garment drawers place polygons, ellipses and strokes in a unit square (x right, y down, the product centred)
and never see pixels or colours: the canvas rasterises at the supersampled resolution into layers that the
renderer turns into slot maps (base / pattern / accent) and shading, identical for every colour variant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

Point = tuple[float, float]

LAYERS: tuple[str, ...] = ("fabric", "accent", "seams")


@dataclass(frozen=True)
class Anchor:
    """Where a printed motif sits on the garment (centre and radius, unit coordinates)."""

    x: float
    y: float
    r: float


class Canvas:
    """Layered drawing in unit coordinates.

    Layers: ``fabric`` (the cloth that carries the print), ``accent`` (trims drawn in the accent colour:
    collars, buttons, soles, straps) and ``seams`` (stitch lines and outlines that only darken the shading).
    ``erase`` cuts holes (a skirt's slit).

    >>> c = Canvas(64)
    >>> c.polygon("fabric", [(0.2, 0.2), (0.8, 0.2), (0.5, 0.8)])
    >>> int(c.array("fabric").max())
    255
    """

    def __init__(
        self,
        px: int,
        stretch: tuple[float, float] = (1.0, 1.0),
        zoom: float = 1.0,
        centre: Point = (0.5, 0.5),
    ) -> None:
        self.px = px
        self.sx, self.sy = stretch  # the design's proportions: widths and lengths scale about the middle
        self.zoom, self.centre = zoom, centre  # framing: the drawing's point ``centre`` lands mid-canvas
        self._images = {name: Image.new("L", (px, px), 0) for name in LAYERS}
        self._draw = {name: ImageDraw.Draw(img) for name, img in self._images.items()}
        self.anchor = Anchor(0.5, 0.4, 0.1)

    def _xy(self, points: Iterable[Point]) -> list[tuple[float, float]]:
        s, z = self.px, self.zoom
        cx, cy = self.centre
        # Stretch about the middle (proportions), then move ``centre`` to mid-canvas and zoom (framing).
        sx, sy = self.sx, self.sy
        return [
            ((0.5 + ((x - 0.5) * sx + 0.5 - cx) * z) * s, (0.5 + ((y - 0.5) * sy + 0.5 - cy) * z) * s)
            for x, y in points
        ]

    def set_anchor(self, x: float, y: float, r: float) -> None:
        """Place the printed motif (centre and radius in the drawing's unit coordinates)."""
        ((ax, ay),) = self._xy([(x, y)])
        self.anchor = Anchor(ax / self.px, ay / self.px, r * min(self.sx, self.sy) * self.zoom)

    def bbox(self) -> tuple[float, float, float, float]:
        """The box ``(x0, y0, x1, y1)`` around everything drawn, in canvas units (all of it if empty)."""
        drawn = np.maximum(self.array("fabric"), self.array("accent"))
        ys, xs = np.nonzero(drawn)
        if len(xs) == 0:
            return 0.0, 0.0, 1.0, 1.0
        return xs.min() / self.px, ys.min() / self.px, (xs.max() + 1) / self.px, (ys.max() + 1) / self.px

    def polygon(self, layer: str, points: Sequence[Point], fill: int = 255) -> None:
        """Fill a polygon on ``layer``."""
        self._draw[layer].polygon(self._xy(points), fill=fill)

    def ellipse(
        self, layer: str, cx: float, cy: float, rx: float, ry: float | None = None, fill: int = 255
    ) -> None:
        """Fill an axis-aligned ellipse centred at (cx, cy)."""
        ry = rx if ry is None else ry
        (x0, y0), (x1, y1) = self._xy([(cx - rx, cy - ry), (cx + rx, cy + ry)])
        self._draw[layer].ellipse([x0, y0, x1, y1], fill=fill)

    def rect(self, layer: str, x0: float, y0: float, x1: float, y1: float, fill: int = 255) -> None:
        """Fill an axis-aligned rectangle."""
        self.polygon(layer, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], fill=fill)

    def stroke(self, layer: str, points: Sequence[Point], width: float, fill: int = 255) -> None:
        """Draw a polyline ``width`` wide (unit coordinates) with rounded joints."""
        w = max(1, int(round(width * self.px)))
        xy = self._xy(points)
        self._draw[layer].line(xy, fill=fill, width=w, joint="curve")
        r = w / 2.0
        for x, y in (xy[0], xy[-1]):
            self._draw[layer].ellipse([x - r, y - r, x + r, y + r], fill=fill)

    def outline(self, layer: str, points: Sequence[Point], width: float) -> None:
        """Stroke a closed polygon's boundary."""
        self.stroke(layer, [*points, points[0]], width)

    def erase(self, points: Sequence[Point]) -> None:
        """Cut a polygonal hole through every layer."""
        for name in LAYERS:
            self.polygon(name, points, fill=0)

    def array(self, layer: str) -> np.ndarray:
        """The layer as uint8 (px, px), 255 where drawn."""
        return np.asarray(self._images[layer], dtype=np.uint8)


def mirror(points: Sequence[Point], cx: float = 0.5) -> list[Point]:
    """A right half outline (centre top, clockwise, to centre bottom) closed with its mirror image."""
    return [*points, *[(2 * cx - x, y) for x, y in reversed(points)]]


def mirror_x(points: Sequence[Point], cx: float = 0.5) -> list[Point]:
    """The same shape reflected about the vertical line x = cx (a left part from a right part)."""
    return [(2 * cx - x, y) for x, y in points]


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 12) -> list[Point]:
    """Points on an elliptical arc from angle a0 to a1 (degrees, 0 = right, 90 = down)."""
    t = np.radians(np.linspace(a0, a1, n))
    return [(float(cx + rx * np.cos(a)), float(cy + ry * np.sin(a))) for a in t]


def bezier(p0: Point, p1: Point, p2: Point, n: int = 10) -> list[Point]:
    """Points on the quadratic Bezier curve from p0 to p2 pulled towards p1 (smooth garment edges)."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    pts = (1 - t) ** 2 * np.array(p0) + 2 * (1 - t) * t * np.array(p1) + t**2 * np.array(p2)
    return [(float(x), float(y)) for x, y in pts]
