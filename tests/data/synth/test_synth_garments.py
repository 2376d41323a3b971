"""Garment families: every option draws, and every single-detail change stays visible at 64 px."""

from __future__ import annotations

import numpy as np
import pytest

from colorvariants.data.synth import FAMILIES, colourize, render_design, sample_design
from colorvariants.data.synth.garments import FAMILY_REGISTRY
from colorvariants.data.synth.palette import Colourway

COLOURWAY = Colourway("navy", "white", "red")
# A change must alter at least this share of a 64 px image (~25 pixels): a 5x5 patch, clearly visible.
MIN_VISIBLE = 0.006


def _pixels(design: object, size: int = 64) -> np.ndarray:
    rgb, _ = colourize(render_design(design, size), COLOURWAY)  # type: ignore[arg-type]
    return rgb


class TestFamilies:
    def test_registry_has_every_family(self) -> None:
        assert set(FAMILY_REGISTRY) == set(FAMILIES)

    @pytest.mark.parametrize("family", FAMILIES)
    def test_every_option_draws_a_framed_garment(self, family: str) -> None:
        base = sample_design(np.random.default_rng(0), family)
        for axis, options in FAMILY_REGISTRY[family].axes.items():
            for option in options:
                mask = render_design(base.with_detail(axis, option), 64).mask
                share = mask.mean()
                assert 0.08 < share < 0.75, f"{family} {axis}={option} covers {share:.0%} of the image"
                border = mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()
                assert not border, f"{family} {axis}={option} is cut off by the frame"

    @pytest.mark.parametrize("family", FAMILIES)
    @pytest.mark.parametrize("seed", [1, 2])
    def test_each_detail_change_is_visible_at_64_px(self, family: str, seed: int) -> None:
        base = sample_design(np.random.default_rng(seed), family)
        before = _pixels(base)
        for axis in base.relevant_axes():
            for option in base.axes()[axis]:
                if option == base.details[axis]:
                    continue
                after = _pixels(base.with_detail(axis, option))
                changed = (np.abs(after - before).max(axis=-1) > 0.15).mean()
                change = f"{family}: {axis} {base.details[axis]}->{option}"
                assert changed >= MIN_VISIBLE, f"{change} changes only {changed:.2%} of a 64 px image"
