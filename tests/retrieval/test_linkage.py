"""Grouping methods on the kNN graph: merges that cut into nested groups at every threshold."""

from __future__ import annotations

import numpy as np
import pytest

from colorvariants.retrieval.linkage import LINKAGES, components


def edges(pairs: list[tuple[int, int, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b, s = zip(*pairs, strict=True)
    return np.array(a), np.array(b), np.array(s, dtype=np.float32)


# Two tight pairs (0-1, 2-3) joined by one strong link 1-2 and two weak ones: single linkage chains all four at
# 0.8, average linkage joins the pairs only at their mean link (0.8 + 0.1 + 0.1) / 3 ~ 0.33.
CHAIN = edges([(0, 1, 0.95), (2, 3, 0.9), (1, 2, 0.8), (0, 2, 0.1), (1, 3, 0.1), (4, 0, 0.05)])


def test_single_linkage_is_components_above_the_threshold() -> None:
    m = LINKAGES["components"].merges(*CHAIN, 5)
    assert len(set(m.cut(0.8)[:4])) == 1 and m.cut(0.8)[4] != m.cut(0.8)[0]


def test_average_linkage_does_not_chain_on_one_edge() -> None:
    m = LINKAGES["average"].merges(*CHAIN, 5)
    g = m.cut(0.5)
    assert g[0] == g[1] and g[2] == g[3] and g[0] != g[2]
    assert len(set(m.cut(0.3)[:4])) == 1  # the pairs join at their mean similarity 1/3


def test_complete_linkage_joins_at_the_weakest_edge() -> None:
    m = LINKAGES["complete"].merges(*CHAIN, 5)
    assert m.cut(0.2)[0] != m.cut(0.2)[2] and m.cut(0.1)[0] == m.cut(0.1)[2]


@pytest.mark.parametrize("name", sorted(LINKAGES))
def test_cuts_are_nested(name: str) -> None:
    rng = np.random.default_rng(0)
    n = 200
    src = rng.integers(0, n, 1500)
    dst = rng.integers(0, n, 1500)
    sim = rng.random(1500).astype(np.float32)
    m = LINKAGES[name].merges(src, dst, sim, n)
    previous = np.arange(n)
    for t in np.linspace(1, 0, 11):
        g = m.cut(float(t))
        # every group at a higher threshold lies inside one group at this one
        pairs = np.unique(np.stack([previous, g], 1), axis=0)
        assert np.unique(pairs[:, 0]).size == pairs.shape[0]
        previous = g
    # at the lowest threshold every method has merged exactly the connected components of the graph
    whole = components(src, dst, n)
    assert np.unique(np.stack([whole, previous], 1), axis=0).shape[0] == np.unique(whole).size
