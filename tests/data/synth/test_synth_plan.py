"""The catalog plan: sibling clusters, shared colourways, counts in the configured ranges, from the seed."""

from __future__ import annotations

import numpy as np

from colorvariants.data.synth import SynthConfig, plan_catalog
from colorvariants.data.synth.plan import cluster_sizes

CONFIG = SynthConfig(styles=120, seed=4, variants=(2, 5), images_per_product=(1, 3), siblings=(2, 3))


class TestPlan:
    def test_clusters_cover_the_styles(self) -> None:
        sizes = cluster_sizes(CONFIG)
        assert sum(sizes) == 120
        assert all(2 <= s <= 3 for s in sizes[:-1]) and 1 <= sizes[-1] <= 3

    def test_siblings_differ_in_one_detail_and_share_a_colourway(self) -> None:
        for cluster in plan_catalog(CONFIG):
            first = cluster[0]
            assert first.sibling_of is None and first.changed_axis is None
            for style in cluster[1:]:
                assert style.sibling_of == first.style_id and style.cluster_id == first.cluster_id
                assert style.design.differs_in(first.design) == [style.changed_axis]
                shared = set(style.colourways) & set(first.colourways)
                assert shared, "colour alone must not tell siblings apart"

    def test_counts_and_colourways_per_style(self) -> None:
        styles = [s for c in plan_catalog(CONFIG) for s in c]
        assert [s.style_id for s in styles] == [f"S{i:05d}" for i in range(120)]
        for s in styles:
            assert 2 <= len(s.colourways) <= 5
            names = {cw.name for cw in s.colourways}
            assert len(names) == len(s.colourways), "variants have distinct colours"
            assert len(s.images_per_product) == len(s.colourways)
            assert all(1 <= n <= 3 for n in s.images_per_product)

    def test_luminance_order_of_slots_varies_within_styles(self) -> None:
        flips = 0
        for s in (s for c in plan_catalog(CONFIG) for s in c):
            signs = {bool(np.diff(cw.lightness()[:2])[0] > 0) for cw in s.colourways}
            flips += len(signs) == 2
        assert flips >= 20, "often one variant's print is lighter than its base and another's darker"

    def test_same_seed_same_plan_and_smaller_catalog_is_a_prefix(self) -> None:
        full = [s for c in plan_catalog(CONFIG) for s in c]
        assert full == [s for c in plan_catalog(CONFIG) for s in c]
        small = SynthConfig(styles=30, seed=4, variants=(2, 5), images_per_product=(1, 3), siblings=(2, 3))
        head = [s for c in plan_catalog(small) for s in c]
        assert head[:-3] == full[: len(head) - 3]  # only the last cluster may be cut short

    def test_families_are_respected_and_mixed(self) -> None:
        styles = [s for c in plan_catalog(CONFIG) for s in c]
        assert len({s.design.family for s in styles}) == 7
        only = SynthConfig(styles=10, families=("bags", "shoes"))
        assert {s.design.family for c in plan_catalog(only) for s in c} <= {"bags", "shoes"}
