"""Garment families: each is a set of categorical design axes and a drawer that turns a choice into layers.

A family module exposes ``AXES`` (axis -> options) and ``draw(canvas, details, params)``. Every option of
every axis changes the drawing visibly at 64 px; the sibling styles of the catalog differ in exactly one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from colorvariants.data.synth.canvas import Canvas
from colorvariants.data.synth.garments import bags, dresses, outerwear, shoes, skirts, tops, trousers

DrawFn = Callable[[Canvas, Mapping[str, str], Mapping[str, float]], None]


@dataclass(frozen=True)
class Family:
    """One garment family: its name, design axes and drawer."""

    name: str
    axes: Mapping[str, tuple[str, ...]]
    draw: DrawFn


FAMILY_REGISTRY: dict[str, Family] = {
    module.__name__.rsplit(".", 1)[-1]: Family(module.__name__.rsplit(".", 1)[-1], module.AXES, module.draw)
    for module in (tops, dresses, trousers, skirts, outerwear, bags, shoes)
}

__all__ = ["FAMILY_REGISTRY", "Family", "DrawFn"]
