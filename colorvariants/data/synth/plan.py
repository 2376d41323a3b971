"""The catalog plan: sibling clusters, each style's design, colourways and image counts, all from the seed.

Planning draws no pixels, so it runs first in one process; rendering the plan can then be spread over workers
and the result stays byte-identical. Every random choice comes from its own stream
``default_rng([seed, stream, ...])``, so the first clusters of a 100-style catalog are those of a 300-style
one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colorvariants.data.synth.config import SynthConfig
from colorvariants.data.synth.design import Design, derive_sibling, sample_design
from colorvariants.data.synth.palette import Colourway, colourway_pool, pick_colourways

STREAM_CLUSTERS, STREAM_POOL, STREAM_CLUSTER, STREAM_IMAGE = 0, 1, 2, 3
GLOBAL_POOL_SIZE = 48  # colourways in the whole catalog: many styles share each, so colour names no design


@dataclass(frozen=True)
class StylePlan:
    """One style: its design, its colour variants (one colourway per product) and photos per product.

    ``sibling_of`` is the style this one differs from in exactly ``changed_axis`` (None for a cluster's
    first style).
    """

    index: int
    style_id: str
    cluster_id: str
    design: Design
    colourways: tuple[Colourway, ...]
    images_per_product: tuple[int, ...]
    sibling_of: str | None = None
    changed_axis: str | None = None

    def product_id(self, k: int) -> str:
        return f"{self.style_id}_c{k}"


def rng_for(config: SynthConfig, stream: int, *keys: int) -> np.random.Generator:
    """The generator of one stream (e.g. one image), independent of the others and of the worker."""
    return np.random.default_rng([config.seed, stream, *keys])


def cluster_sizes(config: SynthConfig) -> list[int]:
    """Styles per sibling cluster, summing to ``config.styles`` (the last cluster may be cut short)."""
    rng = rng_for(config, STREAM_CLUSTERS)
    sizes: list[int] = []
    left = config.styles
    while left > 0:
        n = int(rng.integers(config.siblings[0], config.siblings[1] + 1))
        sizes.append(min(n, left))
        left -= sizes[-1]
    return sizes


def plan_cluster(
    config: SynthConfig, cluster: int, first_index: int, size: int, pool: list[Colourway]
) -> list[StylePlan]:
    """The styles of one cluster: a random design and ``size - 1`` siblings sharing its colourways."""
    rng = rng_for(config, STREAM_CLUSTER, cluster)
    family = config.families[int(rng.integers(len(config.families)))]
    base = sample_design(rng, family)
    order = rng.permutation(len(pool))
    local = [pool[k] for k in order[: config.variants[1] + 2]]
    fallback = [pool[k] for k in order[config.variants[1] + 2 :]]  # when a solid needs more distinct bases
    cluster_id = f"C{cluster:05d}"
    taken = {base.visible_key()}
    styles: list[StylePlan] = []
    first_colourways: list[Colourway] = []
    for j in range(size):
        index = first_index + j
        design, axis = (base, None) if j == 0 else derive_sibling(base, rng, taken)
        taken.add(design.visible_key())
        n = int(rng.integers(config.variants[0], config.variants[1] + 1))
        candidates = [*(local[k] for k in rng.permutation(len(local))), *fallback]
        colourways = pick_colourways(rng, candidates, n, first_colourways, design.printed)
        if j == 0:
            first_colourways = colourways
        low, high = config.images_per_product
        counts = tuple(int(rng.integers(low, high + 1)) for _ in range(n))
        styles.append(
            StylePlan(index, f"S{index:05d}", cluster_id, design, tuple(colourways), counts,
                      None if j == 0 else styles[0].style_id, axis)
        )
    return styles


def plan_catalog(config: SynthConfig) -> list[list[StylePlan]]:
    """Every cluster's styles, in style order."""
    pool = colourway_pool(rng_for(config, STREAM_POOL), GLOBAL_POOL_SIZE)
    clusters: list[list[StylePlan]] = []
    first = 0
    for c, size in enumerate(cluster_sizes(config)):
        clusters.append(plan_cluster(config, c, first, size, pool))
        first += size
    return clusters
