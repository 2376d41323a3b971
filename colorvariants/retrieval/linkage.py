"""Grouping methods on the sparse kNN graph, each as a list of merges that can be cut at any threshold.

A method turns the graph's edges (``src, dst, sim``: directed kNN pairs with their similarity) into *merges*
``(a, b, height)``: cutting at T joins a and b for every merge of height >= T, and the groups are the connected
components of what is joined. So one pass gives the whole precision-recall curve over thresholds.

- ``components``: every edge is a merge at its own similarity (single linkage; today's default with guards).
- ``average`` / ``complete``: reciprocal agglomerative clustering (RAC; Sumengen et al., ICML 2021, "Scaling
  hierarchical agglomerative clustering to trillion-edge graphs"): in rounds, every pair of clusters that are
  each other's most similar neighbour merges; the similarity of two clusters is the mean (``average``) or the
  least (``complete``) similarity of the kNN edges between them, pairs without an edge unseen. A merge's height
  is capped by the heights of the merges that built its two sides, so every cut is a nested partition.

Cost: O(E log E) per round on the cluster graph, which shrinks every round; never N x N.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from colorvariants.retrieval.choices import LINKAGE_NAMES, LinkageName, add_to_registry


@dataclass(frozen=True)
class Merges:
    """Item pairs joined at or above ``height``."""

    a: np.ndarray
    b: np.ndarray
    height: np.ndarray
    n: int

    def cut(self, threshold: float) -> np.ndarray:
        """Group label per item when every merge of height >= ``threshold`` is made."""
        keep = self.height >= threshold
        return components(self.a[keep], self.b[keep], self.n)

    def heights(self) -> np.ndarray:
        return np.unique(self.height[np.isfinite(self.height)])


def components(src: np.ndarray, dst: np.ndarray, n: int) -> np.ndarray:
    """Connected-component label per item of the undirected graph ``src - dst``."""
    graph = coo_matrix((np.ones(src.size, dtype=np.int8), (src, dst)), shape=(n, n)).tocsr()
    return connected_components(graph, directed=False)[1].astype(np.int64)


class Linkage:
    """A grouping method: edges -> merges."""

    name: ClassVar[LinkageName]
    summary: ClassVar[str]

    def merges(self, src: np.ndarray, dst: np.ndarray, sim: np.ndarray, n: int) -> Merges:
        raise NotImplementedError


LINKAGES: dict[str, Linkage] = {}


def _register(cls: type[Linkage]) -> type[Linkage]:
    add_to_registry(LINKAGES, cls.name, cls(), LINKAGE_NAMES, "grouping method")
    return cls


@_register
class SingleLinkage(Linkage):
    name = "components"
    summary = "connected components of the edges above the threshold (single linkage)"

    def merges(self, src: np.ndarray, dst: np.ndarray, sim: np.ndarray, n: int) -> Merges:
        return Merges(src, dst, sim.astype(np.float64), n)


class _Reciprocal(Linkage):
    """RAC over the cluster graph; subclasses say how edge similarities between two clusters combine."""

    def combine(self, key_inverse: np.ndarray, n_keys: int, sims: np.ndarray, counts: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def link(self, sims: np.ndarray, counts: np.ndarray) -> np.ndarray:
        return sims

    def merges(self, src: np.ndarray, dst: np.ndarray, sim: np.ndarray, n: int) -> Merges:
        label = np.arange(n, dtype=np.int64)
        capped = np.full(n, np.inf)  # height of the merge that built each cluster (inf: a single item)
        a, b = src.astype(np.int64), dst.astype(np.int64)
        s, c = sim.astype(np.float64), np.ones(src.size)
        out_a, out_b, out_h = [], [], []
        while True:
            a, b = label[a], label[b]
            inner = a != b
            a, b, s, c = a[inner], b[inner], s[inner], c[inner]
            if a.size == 0:
                break
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            keys, inv = np.unique(lo * n + hi, return_inverse=True)
            s, c = self.combine(inv, keys.size, s, c)
            a, b = keys // n, keys % n
            link = self.link(s, c)
            best = _best_neighbour(a, b, link, n)
            mutual = (best[a] == b) & (best[b] == a)
            if not mutual.any():
                break
            ma, mb, mh = a[mutual], b[mutual], link[mutual]
            height = np.minimum(mh, np.minimum(capped[ma], capped[mb]))
            out_a.append(ma)
            out_b.append(mb)
            out_h.append(height)
            capped[ma] = height
            relabel = np.arange(n, dtype=np.int64)
            relabel[mb] = ma
            label = relabel[label]
        if not out_a:
            return Merges(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), n)
        return Merges(np.concatenate(out_a), np.concatenate(out_b), np.concatenate(out_h), n)


def _best_neighbour(a: np.ndarray, b: np.ndarray, link: np.ndarray, n: int) -> np.ndarray:
    """Each cluster's most similar neighbour (ties: the smaller id), -1 without one; two O(E) reductions."""
    ends = np.concatenate([a, b])
    other = np.concatenate([b, a])
    score = np.concatenate([link, link])
    top = np.full(n, -np.inf)
    np.maximum.at(top, ends, score)
    at_top = score == top[ends]
    best = np.full(n, n, dtype=np.int64)
    np.minimum.at(best, ends[at_top], other[at_top])
    best[best == n] = -1
    return best


@_register
class AverageLinkage(_Reciprocal):
    name = "average"
    summary = "average linkage over the kNN edges between two groups (reciprocal agglomerative clustering)"

    def combine(self, key_inverse: np.ndarray, n_keys: int, sims: np.ndarray, counts: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        # Sums and counts add up under merging, so the cluster graph carries (sum, count) per edge.
        return (np.bincount(key_inverse, weights=sims * counts, minlength=n_keys) /
                np.maximum(np.bincount(key_inverse, weights=counts, minlength=n_keys), 1e-12),
                np.bincount(key_inverse, weights=counts, minlength=n_keys))


@_register
class CompleteLinkage(_Reciprocal):
    name = "complete"
    summary = "complete linkage over the kNN edges between two groups (least edge similarity; RAC)"

    def combine(self, key_inverse: np.ndarray, n_keys: int, sims: np.ndarray, counts: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        least = np.full(n_keys, np.inf)
        np.minimum.at(least, key_inverse, sims)
        return least, np.bincount(key_inverse, weights=counts, minlength=n_keys)
