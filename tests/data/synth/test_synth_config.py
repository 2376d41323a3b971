"""SynthConfig: bad settings fail with an actionable ColorVariantsError; the config round-trips as JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from colorvariants.data.synth import FAMILIES, SynthConfig, SynthConfigError
from colorvariants.errors import ColorVariantsError


class TestSynthConfig:
    def test_defaults_match_the_documented_catalog(self) -> None:
        c = SynthConfig()
        assert (c.styles, c.size, c.masks) == (300, 128, True)
        assert (c.variants, c.images_per_product) == ((2, 5), (1, 2))
        assert set(c.families) == set(FAMILIES) and len(FAMILIES) == 7

    @pytest.mark.parametrize(
        "kwargs, setting",
        [
            ({"styles": 0}, "styles"),
            ({"seed": -1}, "seed"),
            ({"size": 16}, "size"),
            ({"variants": (1, 3)}, "variants"),
            ({"variants": (4, 3)}, "variants"),
            ({"images_per_product": (0, 2)}, "images_per_product"),
            ({"siblings": (3, 2)}, "siblings"),
            ({"families": ("hats",)}, "families"),
            ({"jpeg_quality": (90, 101)}, "jpeg_quality"),
            ({"scale": (0.9, 2.0)}, "scale"),
        ],
    )
    def test_bad_setting_names_setting_and_fix(self, kwargs: dict[str, Any], setting: str) -> None:
        with pytest.raises(SynthConfigError, match=setting) as info:
            SynthConfig(**kwargs)
        assert isinstance(info.value, ColorVariantsError)
        assert "Fix:" in str(info.value)

    def test_lists_become_tuples_so_configs_compare_equal(self) -> None:
        from_lists = SynthConfig(variants=[2, 3], families=["tops"])  # type: ignore[arg-type]
        assert from_lists == SynthConfig(variants=(2, 3), families=("tops",))

    def test_to_dict_is_json_and_rebuilds_the_same_config(self) -> None:
        c = SynthConfig(styles=9, seed=3, families=("bags", "shoes"), nuisance=False)
        assert SynthConfig(**json.loads(json.dumps(c.to_dict()))) == c
