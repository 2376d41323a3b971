"""``Design``: what makes a style a style (family, silhouette details, print), and how siblings are derived.

A design is everything about a product except its colours: every colour variant of a style renders the same
design. A *sibling* design differs from another in exactly one visible detail (collar, sleeve length, print
scale...).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from colorvariants.data.synth.garments import FAMILY_REGISTRY
from colorvariants.data.synth.patterns import PATTERN_AXES, PATTERN_WEIGHTS, relevant_pattern_axes

# Share of sibling changes that touch the print rather than the cut (both must be learnt).
PATTERN_CHANGE_SHARE = 0.35
VisibleKey = tuple[str, tuple[tuple[str, str], ...]]  # a family and its visible (axis, option) pairs


@dataclass(frozen=True)
class Design:
    """A garment design: ``family``, categorical ``details`` (cut and print axes) and continuous ``params``
    (proportions, print phase, fold shading) shared by a sibling cluster.

    >>> rng = np.random.default_rng(0)
    >>> design = sample_design(rng, "tops")
    >>> sibling, axis = derive_sibling(design, rng)
    >>> design.differs_in(sibling) == [axis]
    True
    """

    family: str
    details: Mapping[str, str]
    params: Mapping[str, float]

    def axes(self) -> dict[str, tuple[str, ...]]:
        """All categorical axes of this design (family axes, then print axes) with their options."""
        return {**FAMILY_REGISTRY[self.family].axes, **PATTERN_AXES}

    def relevant_axes(self) -> tuple[str, ...]:
        """The axes whose value shows in the picture (a solid print has no scale)."""
        return (*FAMILY_REGISTRY[self.family].axes, *relevant_pattern_axes(self.details))

    @property
    def printed(self) -> bool:
        """Whether the pattern slot shows (anything but a solid)."""
        return self.details["pattern"] != "solid"

    def visible_key(self) -> VisibleKey:
        """Two designs with the same key look the same."""
        return self.family, tuple((a, self.details[a]) for a in self.relevant_axes())

    def with_detail(self, axis: str, value: str) -> Design:
        """A copy with one detail changed."""
        if value not in self.axes()[axis]:
            raise ValueError(f"{value!r} is not an option of {axis!r}: {self.axes()[axis]}")
        return Design(self.family, {**self.details, axis: value}, self.params)

    def differs_in(self, other: Design) -> list[str]:
        """The visible axes on which two designs of one family differ."""
        if other.family != self.family:
            return ["family"]
        axes = dict.fromkeys((*self.relevant_axes(), *other.relevant_axes()))
        return [a for a in axes if self.details[a] != other.details[a]]

    def describe(self) -> str:
        """``axis=value`` pairs of the visible details, e.g. for a contact sheet caption."""
        return ", ".join(f"{a}={self.details[a]}" for a in self.relevant_axes())


def sample_params(rng: np.random.Generator) -> dict[str, float]:
    """Continuous choices of a cluster: proportions, print phase and placement, fold shading."""
    return {
        "width": float(rng.uniform(0.93, 1.07)),
        "length": float(rng.uniform(0.95, 1.04)),
        "pattern_dx": float(rng.uniform(0.0, 1.0)),
        "pattern_dy": float(rng.uniform(0.0, 1.0)),
        "block_at": float(rng.uniform(0.4, 0.6)),
        "fold_freq": float(rng.uniform(2.5, 4.5)),
        "fold_phase": float(rng.uniform(0.0, 2 * math.pi)),
        "fold_amp": float(rng.uniform(0.03, 0.07)),
    }


def sample_design(rng: np.random.Generator, family: str) -> Design:
    """A random design of ``family``: uniform over each axis, prints by ``PATTERN_WEIGHTS``."""
    if family not in FAMILY_REGISTRY:
        raise ValueError(f"unknown garment family {family!r}; choose from {sorted(FAMILY_REGISTRY)}")
    axes = FAMILY_REGISTRY[family].axes
    details = {axis: str(opts[rng.integers(len(opts))]) for axis, opts in axes.items()}
    kinds = list(PATTERN_WEIGHTS)
    weights = np.array([PATTERN_WEIGHTS[k] for k in kinds])
    details["pattern"] = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
    for axis, opts in PATTERN_AXES.items():
        if axis != "pattern":
            details[axis] = str(opts[rng.integers(len(opts))])
    return Design(family, details, sample_params(rng))


def derive_sibling(
    design: Design, rng: np.random.Generator, taken: set[VisibleKey] | None = None
) -> tuple[Design, str]:
    """A design that differs from ``design`` in exactly one visible detail and looks like none in ``taken``.

    Returns the sibling and the axis that changed.
    """
    taken = set() if taken is None else taken
    pattern_axes = [a for a in design.relevant_axes() if a in PATTERN_AXES]
    cut_axes = [a for a in design.relevant_axes() if a not in PATTERN_AXES]
    for _ in range(200):
        pool = pattern_axes if rng.random() < PATTERN_CHANGE_SHARE else cut_axes
        axis = pool[int(rng.integers(len(pool)))]
        options = [o for o in design.axes()[axis] if o != design.details[axis]]
        sibling = design.with_detail(axis, options[int(rng.integers(len(options)))])
        if sibling.visible_key() not in taken and sibling.differs_in(design) == [axis]:
            return sibling, axis
    # Not reached: every axis has >= 2 options and a cluster holds few siblings.
    raise RuntimeError(f"no new sibling of {design.describe()} found")
