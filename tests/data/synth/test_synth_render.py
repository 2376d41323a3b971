"""Rendering: colour variants of a design share every pixel of structure and differ only in colour."""

from __future__ import annotations

import numpy as np
import pytest

from colorvariants.data.synth import FAMILIES, colourize, render_design, sample_design
from colorvariants.data.synth.palette import Colourway

LIGHT = Colourway("white", "navy", "red")
DARK = Colourway("black", "yellow", "sky blue")


class TestRender:
    @pytest.mark.parametrize("family", FAMILIES)
    def test_variants_share_silhouette_and_shading(self, family: str) -> None:
        design = sample_design(np.random.default_rng(21), family)
        drawn = render_design(design, 64, factor=1)
        (rgb_a, alpha_a), (rgb_b, alpha_b) = colourize(drawn, LIGHT), colourize(drawn, DARK)
        assert np.array_equal(alpha_a, alpha_b)
        # Undo each colourway's albedo: what is left (the light on the cloth) must be the same for both.
        slot = drawn.slots
        shade_a = _unlit(rgb_a, drawn.sheen, LIGHT, slot)
        shade_b = _unlit(rgb_b, drawn.sheen, DARK, slot)
        both = np.isfinite(shade_a) & np.isfinite(shade_b)
        assert both.sum() > 0.5 * (slot > 0).sum() * 3
        np.testing.assert_allclose(shade_a[both], shade_b[both], atol=1e-4)

    def test_dark_variant_keeps_visible_folds(self) -> None:
        design = sample_design(np.random.default_rng(22), "dresses").with_detail("pattern", "solid")
        drawn = render_design(design, 64)
        rgb, alpha = colourize(drawn, DARK)
        lum = rgb.mean(axis=-1)[alpha > 0.99]
        assert np.percentile(lum, 95) - np.percentile(lum, 5) > 0.03, "black cloth must not render flat"

    def test_premultiplied_and_anti_aliased(self) -> None:
        drawn = render_design(sample_design(np.random.default_rng(23), "bags"), 64, factor=2)
        rgb, alpha = colourize(drawn, LIGHT)
        assert rgb.shape == (64, 64, 3) and alpha.shape == (64, 64)
        assert not rgb[alpha == 0].any(), "no colour outside the garment"
        assert ((alpha > 0) & (alpha < 1)).any(), "edges are anti-aliased"

    def test_deterministic(self) -> None:
        design = sample_design(np.random.default_rng(24), "outerwear")
        a, b = render_design(design, 64), render_design(design, 64)
        assert np.array_equal(a.slots, b.slots) and np.array_equal(a.shade, b.shade)


def _unlit(rgb: np.ndarray, sheen: np.ndarray, colourway: Colourway, slot: np.ndarray) -> np.ndarray:
    table = np.zeros((4, 3), dtype=np.float32)
    table[1:] = colourway.rgb()
    albedo = table[slot]
    usable = (albedo > 0.05) & (rgb < 0.999) & (slot[..., None] > 0)
    return np.where(usable, (rgb - sheen[..., None]) / np.maximum(albedo, 1e-6), np.nan)
