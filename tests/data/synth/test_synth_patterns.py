"""Prints: coverage, orientation and a repeat that survives downsampling to 64 px."""

from __future__ import annotations

import numpy as np
import pytest

from colorvariants.data.synth.canvas import Anchor
from colorvariants.data.synth.patterns import PATTERN_AXES, pattern_field

PX = 128
ANCHOR = Anchor(0.5, 0.5, 0.12)
BOX = (0.2, 0.1, 0.8, 0.9)
PARAMS = {"pattern_dx": 0.3, "pattern_dy": 0.6, "block_at": 0.5}


def _field(**details: str) -> np.ndarray:
    full = {"pattern": "solid", "pattern_scale": "small", "stripe_angle": "horizontal", "motif": "star"}
    full["block"] = "top"
    return pattern_field({**full, **details}, PARAMS, PX, ANCHOR, BOX)


def _period(profile: np.ndarray) -> float:
    """Mean distance between rising edges of a boolean profile, in pixels."""
    rises = np.flatnonzero(~profile[:-1] & profile[1:])
    return float(np.diff(rises).mean())


class TestPatterns:
    def test_solid_has_no_print(self) -> None:
        assert not _field().any()

    @pytest.mark.parametrize("kind", ["stripes", "checks", "dots", "chevrons"])
    @pytest.mark.parametrize("scale", PATTERN_AXES["pattern_scale"])
    def test_repeating_prints_cover_a_fair_share(self, kind: str, scale: str) -> None:
        share = _field(pattern=kind, pattern_scale=scale).mean()
        assert 0.15 < share < 0.7

    def test_stripes_follow_their_angle(self) -> None:
        horizontal = _field(pattern="stripes", stripe_angle="horizontal")
        vertical = _field(pattern="stripes", stripe_angle="vertical")
        assert (horizontal == horizontal[:, :1]).all(), "horizontal stripes are constant along a row"
        assert (vertical == vertical[:1, :]).all()

    @pytest.mark.parametrize("scale, minimum", [("small", 5.0), ("large", 9.0)])
    def test_repeat_survives_64_px(self, scale: str, minimum: float) -> None:
        stripes = _field(pattern="stripes", pattern_scale=scale)
        period_at_64 = _period(stripes[:, 0]) * 64 / PX
        assert period_at_64 >= minimum

    def test_scales_differ(self) -> None:
        small = _period(_field(pattern="stripes", pattern_scale="small")[:, 0])
        large = _period(_field(pattern="stripes", pattern_scale="large")[:, 0])
        assert large > 1.5 * small

    @pytest.mark.parametrize("motif", PATTERN_AXES["motif"])
    def test_motif_sits_at_the_anchor(self, motif: str) -> None:
        field = _field(pattern="motif", motif=motif)
        ys, xs = np.nonzero(field)
        assert field.mean() > 0.01
        r = np.hypot(xs / PX - ANCHOR.x, ys / PX - ANCHOR.y)
        assert r.max() <= ANCHOR.r * 1.35

    def test_motifs_are_distinguishable(self) -> None:
        fields = [_field(pattern="motif", motif=m) for m in PATTERN_AXES["motif"]]
        for i in range(len(fields)):
            for j in range(i + 1, len(fields)):
                assert (fields[i] != fields[j]).mean() > 0.004

    @pytest.mark.parametrize("layout", PATTERN_AXES["block"])
    def test_colour_blocks_split_the_garment_box(self, layout: str) -> None:
        field = _field(pattern="colour-block", block=layout)
        inside = field[int(0.1 * PX) : int(0.9 * PX), int(0.2 * PX) : int(0.8 * PX)]
        assert 0.1 < inside.mean() < 0.9
