"""Named garment colours and colourways: which colour fills each of a design's slots (base, pattern, accent).

Real colour variants change luminance as well as hue (a black and a white shirt, navy vs pastel), so the
palette spans dark to light and a colourway's pattern colour may be lighter or darker than its base.
Colourways are drawn
from one pool per catalog and shared between sibling styles, so colour alone cannot identify a design.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# sRGB hex of common fashion colour names, from near-black to near-white across the hue circle.
NAMED_COLOURS: dict[str, str] = {
    "black": "#151515",
    "charcoal": "#3b3b3e",
    "grey": "#8a8a8a",
    "light grey": "#c9c9c9",
    "white": "#f5f5f2",
    "cream": "#efe5cc",
    "beige": "#d6c09c",
    "camel": "#b8864b",
    "brown": "#6b4228",
    "khaki": "#9b905b",
    "olive": "#5b6231",
    "forest green": "#1e4c2a",
    "green": "#2f9d4e",
    "mint": "#a6e3c2",
    "teal": "#1b7a7a",
    "sky blue": "#8cc8eb",
    "denim": "#4a6a94",
    "royal blue": "#2550b4",
    "navy": "#1a2446",
    "lilac": "#c3a8dc",
    "purple": "#5d2e86",
    "burgundy": "#6c1a2e",
    "red": "#c8202a",
    "coral": "#f27a61",
    "pink": "#f09cb9",
    "fuchsia": "#c5267a",
    "orange": "#eb7a1c",
    "rust": "#a4461f",
    "mustard": "#d3a229",
    "yellow": "#f2d53d",
}
SLOTS: tuple[str, ...] = ("base", "pattern", "accent")


def hex_to_rgb(code: str) -> np.ndarray:
    """``#rrggbb`` -> float32 RGB in [0, 1]."""
    code = code.lstrip("#")
    return np.array([int(code[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float32) / 255.0


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (..., 3) -> CIE L*a*b* (D65), for perceptual contrast between slot colours."""
    rgb = np.asarray(rgb, dtype=np.float64)
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1)


_NAMES = tuple(NAMED_COLOURS)
_RGB = np.stack([hex_to_rgb(NAMED_COLOURS[n]) for n in _NAMES])
_LAB = rgb_to_lab(_RGB)


@dataclass(frozen=True)
class Colourway:
    """The colours of one product: a named colour per slot (``label`` is the manifest's ``color``)."""

    base: str
    pattern: str
    accent: str

    @property
    def name(self) -> str:
        return f"{self.base}/{self.pattern}"

    def label(self, printed: bool) -> str:
        """The colour name a catalog shows: ``navy/white`` for a print, just ``navy`` for a solid."""
        return self.name if printed else self.base

    def rgb(self) -> np.ndarray:
        """(3, 3) float32: one RGB row per slot, in ``SLOTS`` order."""
        return np.stack([hex_to_rgb(NAMED_COLOURS[c]) for c in (self.base, self.pattern, self.accent)])

    def lightness(self) -> np.ndarray:
        """L* of each slot colour (0 black .. 100 white)."""
        return rgb_to_lab(self.rgb())[:, 0]


def _delta_e(i: int, j: int) -> float:
    return float(np.linalg.norm(_LAB[i] - _LAB[j]))


def sample_colourway(rng: np.random.Generator) -> Colourway:
    """One colourway whose slots are clearly distinct (so every design detail stays visible in every colour).

    The pattern colour contrasts with the base (CIE76 distance >= 45), and whether it is lighter or darker is
    left to chance, so within a style the luminance order of the slots differs between variants.
    """
    n = len(_NAMES)
    base = int(rng.integers(n))
    patterns = [j for j in range(n) if _delta_e(base, j) >= 45.0]
    pattern = int(patterns[rng.integers(len(patterns))])
    accents = [j for j in range(n) if j not in (base, pattern) and _delta_e(base, j) >= 35.0]
    accents = [j for j in accents if _delta_e(pattern, j) >= 20.0]
    accent = int(accents[rng.integers(len(accents))])
    return Colourway(_NAMES[base], _NAMES[pattern], _NAMES[accent])


def colourway_pool(rng: np.random.Generator, count: int) -> list[Colourway]:
    """``count`` colourways with distinct names (the catalog-wide pool every cluster draws from)."""
    pool: dict[str, Colourway] = {}
    while len(pool) < count:
        cw = sample_colourway(rng)
        pool.setdefault(cw.name, cw)
    return list(pool.values())


def pick_colourways(
    rng: np.random.Generator,
    pool: Sequence[Colourway],
    count: int,
    must_share: Sequence[Colourway] = (),
    printed: bool = True,
) -> list[Colourway]:
    """``count`` colourways from ``pool`` that look different on the design, spanning light and dark bases.

    Args:
        rng: the generator to draw from.
        pool: candidates, best first (e.g. the cluster's colourways, then the catalog's).
        count: how many; fewer only if the pool runs out of distinct looks.
        must_share: at least one of these is kept (sibling styles share colourways).
        printed: whether the design shows its pattern slot; on a solid design only the base colour tells
            two variants apart, so their bases must differ.
    """

    def look(cw: Colourway) -> tuple[str, ...]:
        return (cw.base, cw.pattern) if printed else (cw.base,)

    chosen: list[Colourway] = []
    if must_share:
        n_shared = int(rng.integers(1, min(count, len(must_share)) + 1))
        for k in rng.permutation(len(must_share)):
            if len(chosen) < n_shared and look(must_share[k]) not in {look(c) for c in chosen}:
                chosen.append(must_share[k])
    for cw in pool:
        if len(chosen) >= count:
            break
        if look(cw) not in {look(c) for c in chosen}:
            chosen.append(cw)
    light = np.array([cw.lightness()[0] for cw in chosen])
    if len(chosen) >= 2 and light.max() - light.min() < 35.0:
        # Swap the last pick for the candidate farthest in lightness (real variants come in black and white).
        keep = chosen[:-1]
        others = [cw for cw in pool if look(cw) not in {look(c) for c in keep}]
        if others:
            mid = float(np.median(light))
            chosen[-1] = max(others, key=lambda cw: abs(cw.lightness()[0] - mid))
    return chosen
