"""Colourways: distinct slot colours, light and dark variants, sharing between sibling styles."""

from __future__ import annotations

import numpy as np

from colorvariants.data.synth.palette import (
    NAMED_COLOURS,
    colourway_pool,
    pick_colourways,
    rgb_to_lab,
    sample_colourway,
)


def _delta_e(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(rgb_to_lab(a) - rgb_to_lab(b)))


class TestColourways:
    def test_palette_spans_dark_to_light(self) -> None:
        lightness = [rgb_to_lab(np.array(_hex(v)))[0] for v in NAMED_COLOURS.values()]
        assert min(lightness) < 15 and max(lightness) > 90

    def test_slots_are_distinct_so_every_detail_shows(self) -> None:
        rng = np.random.default_rng(0)
        for _ in range(200):
            base, pattern, accent = sample_colourway(rng).rgb()
            assert _delta_e(base, pattern) >= 45 and _delta_e(base, accent) >= 35
            assert _delta_e(pattern, accent) >= 20

    def test_pattern_is_sometimes_lighter_sometimes_darker_than_base(self) -> None:
        rng = np.random.default_rng(1)
        lighter = [bool(np.diff(sample_colourway(rng).lightness()[:2])[0] > 0) for _ in range(200)]
        assert 0.25 < np.mean(lighter) < 0.75

    def test_pool_names_are_unique(self) -> None:
        pool = colourway_pool(np.random.default_rng(2), 40)
        assert len({cw.name for cw in pool}) == 40

    def test_pick_shares_with_sibling_and_spans_lightness(self) -> None:
        pool = colourway_pool(np.random.default_rng(3), 12)
        rng = np.random.default_rng(4)
        for _ in range(50):
            first = pick_colourways(rng, pool, 3)
            sibling = pick_colourways(rng, pool, int(rng.integers(2, 6)), must_share=first)
            assert set(first) & set(sibling), "siblings must share a colourway"
            assert len(set(sibling)) == len(sibling)
            bases = [cw.lightness()[0] for cw in sibling]
            assert max(bases) - min(bases) >= 20, "variants should differ in lightness, not only hue"


def _hex(code: str) -> list[float]:
    return [int(code[i : i + 2], 16) / 255 for i in (1, 3, 5)]
