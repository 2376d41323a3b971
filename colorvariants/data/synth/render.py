"""Render a design once (slot map + shading), then colour it per product: variants differ only in colour.

The slot map says which colour role each pixel has (0 background, 1 base, 2 pattern, 3 accent); shading (edge
fall-off, fabric folds, seams) and sheen depend on the design alone. A product's pixels are
``albedo[slot] * shade + sheen``: a dark variant keeps the sheen on its folds, as real black cloth does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from colorvariants.data.synth.canvas import Canvas
from colorvariants.data.synth.design import Design
from colorvariants.data.synth.garments import FAMILY_REGISTRY
from colorvariants.data.synth.palette import Colourway
from colorvariants.data.synth.patterns import pattern_field

BACKGROUND, BASE, PATTERN, ACCENT = 0, 1, 2, 3
FILL = 0.8  # a product photo frames the product: its longer side spans this much of the canvas...
MAX_ZOOM = 1.6  # ...zooming small items (shorts, a mini skirt) in by at most this much, never out


@dataclass(frozen=True)
class DesignRender:
    """The colour-independent raster of one design at ``size * factor`` pixels (the supersampled grid)."""

    slots: np.ndarray  # uint8 (P, P)
    shade: np.ndarray  # float32 (P, P), multiplies the albedo
    sheen: np.ndarray  # float32 (P, P), added on top
    size: int
    factor: int

    @property
    def mask(self) -> np.ndarray:
        return self.slots != BACKGROUND


def render_design(design: Design, size: int, factor: int = 2) -> DesignRender:
    """Draw ``design`` at ``size * factor`` px and compute its slot map and shading."""
    px = size * factor
    stretch = (design.params["width"], design.params["length"])
    draw = FAMILY_REGISTRY[design.family].draw
    probe = Canvas(max(64, px // 2), stretch)  # first pass measures the drawing, the second frames it
    draw(probe, design.details, design.params)
    x0, y0, x1, y1 = probe.bbox()
    zoom = float(np.clip(FILL / max(x1 - x0, y1 - y0), 1.0, MAX_ZOOM))
    canvas = Canvas(px, stretch, zoom, ((x0 + x1) / 2, (y0 + y1) / 2))
    draw(canvas, design.details, design.params)
    fabric = canvas.array("fabric") > 127
    accent = canvas.array("accent") > 127
    mask = fabric | accent
    if not mask.any():
        raise RuntimeError(f"design drew nothing: {design.describe()}")
    ys, xs = np.nonzero(mask)
    bbox = (xs.min() / px, ys.min() / px, (xs.max() + 1) / px, (ys.max() + 1) / px)
    printed = pattern_field(design.details, design.params, px, canvas.anchor, bbox, zoom)
    cloth = np.where(fabric, np.where(printed, PATTERN, BASE), BACKGROUND)
    slots = np.where(accent, ACCENT, cloth).astype(np.uint8)
    shade, sheen = _shading(design, mask, accent, canvas.array("seams"), px)
    return DesignRender(slots, shade, sheen, size, factor)


def _shading(
    design: Design, mask: np.ndarray, accent: np.ndarray, seams: np.ndarray, px: int
) -> tuple[np.ndarray, np.ndarray]:
    # Edges fall off like a rounded body (a distance transform), folds run down the cloth, seams darken.
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3) / px
    shade = 0.74 + 0.26 * np.clip(dist / 0.05, 0.0, 1.0) ** 0.7
    trim = cv2.distanceTransform(accent.astype(np.uint8), cv2.DIST_L2, 3) / px
    shade = np.where(accent, shade * (0.86 + 0.14 * np.clip(trim / 0.012, 0.0, 1.0)), shade)
    c = (np.arange(px, dtype=np.float32) + 0.5) / px
    u, v = np.meshgrid(c, c)
    p = design.params
    sway = 0.3 * np.sin(2 * math.pi * 1.3 * v + p["fold_phase"])  # folds wander a little down the cloth
    wave = np.sin(2 * math.pi * (p["fold_freq"] * u + sway) + p["fold_phase"])
    shade = shade * (1.0 + p["fold_amp"] * wave) * (1.04 - 0.08 * v)
    lines = cv2.GaussianBlur(seams.astype(np.float32) / 255.0, (0, 0), max(0.6, px / 256))
    shade = shade * (1.0 - 0.5 * lines)
    sheen = 0.012 + 0.045 * np.clip(wave, 0.0, 1.0) ** 2 * (1.0 - lines)
    return (shade * mask).astype(np.float32), (sheen * mask).astype(np.float32)


def colourize(render: DesignRender, colourway: Colourway) -> tuple[np.ndarray, np.ndarray]:
    """A product's pixels: premultiplied RGB float32 ``(size, size, 3)`` in [0, 1] and alpha ``(size, size)``.

    Premultiplied (zero outside the garment) so warping and compositing over any background stay exact.
    """
    table = np.zeros((4, 3), dtype=np.float32)
    table[1:] = colourway.rgb()
    rgb: np.ndarray = np.clip(table[render.slots] * render.shade[..., None] + render.sheen[..., None], 0.0, 1.0)
    alpha: np.ndarray = render.mask.astype(np.float32)
    if render.factor > 1:
        dsize = (render.size, render.size)
        rgb = cv2.resize(rgb, dsize, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, dsize, interpolation=cv2.INTER_AREA)
    return rgb, alpha
