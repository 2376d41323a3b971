"""Designs and siblings: a sibling differs from its design in exactly one visible detail."""

from __future__ import annotations

import numpy as np
import pytest

from colorvariants.data.synth import FAMILIES, derive_sibling, sample_design
from colorvariants.data.synth.patterns import PATTERN_AXES


class TestDesign:
    @pytest.mark.parametrize("family", FAMILIES)
    def test_sibling_differs_in_exactly_one_visible_detail(self, family: str) -> None:
        rng = np.random.default_rng(11)
        for _ in range(30):
            design = sample_design(rng, family)
            sibling, axis = derive_sibling(design, rng)
            assert design.differs_in(sibling) == [axis]
            assert sibling.params == design.params, "siblings share proportions and print phase"
            assert sibling.visible_key() != design.visible_key()

    def test_siblings_change_both_cut_and_print(self) -> None:
        rng = np.random.default_rng(12)
        axes = [derive_sibling(sample_design(rng, "tops"), rng)[1] for _ in range(200)]
        assert any(a in PATTERN_AXES for a in axes) and any(a not in PATTERN_AXES for a in axes)

    def test_sibling_avoids_taken_designs(self) -> None:
        rng = np.random.default_rng(13)
        design = sample_design(rng, "bags")
        taken = {design.visible_key()}
        for _ in range(5):
            sibling, _ = derive_sibling(design, rng, taken)
            assert sibling.visible_key() not in taken
            taken.add(sibling.visible_key())

    def test_irrelevant_axis_is_not_a_difference(self) -> None:
        design = sample_design(np.random.default_rng(14), "skirts").with_detail("pattern", "solid")
        flipped = "large" if design.details["pattern_scale"] == "small" else "small"
        other = design.with_detail("pattern_scale", flipped)
        assert design.differs_in(other) == [] and design.visible_key() == other.visible_key()

    def test_same_rng_same_design(self) -> None:
        first = sample_design(np.random.default_rng(5), "shoes")
        assert first == sample_design(np.random.default_rng(5), "shoes")

    def test_unknown_option_and_family_are_rejected(self) -> None:
        design = sample_design(np.random.default_rng(0), "tops")
        with pytest.raises(ValueError, match="sleeves"):
            design.with_detail("sleeves", "tentacles")
        with pytest.raises(ValueError, match="hats"):
            sample_design(np.random.default_rng(0), "hats")
