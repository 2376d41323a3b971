"""The built-in synthetic catalog: procedurally drawn garments whose colour variants differ only in colour.

Styles come in sibling clusters that differ in one design detail and share colourways, so colour alone cannot
identify a design while shape and print can. Every image has its own nuisance (pose, background, lighting,
JPEG).

>>> from colorvariants.data.synth import SynthConfig, write_synthetic_catalog
>>> manifest = write_synthetic_catalog("runs/synth", SynthConfig(styles=30, seed=1))  # doctest: +SKIP
"""

from __future__ import annotations

from colorvariants.data.synth.config import FAMILIES, SynthConfig, SynthConfigError
from colorvariants.data.synth.design import Design, derive_sibling, sample_design
from colorvariants.data.synth.palette import Colourway
from colorvariants.data.synth.plan import StylePlan, plan_catalog
from colorvariants.data.synth.render import DesignRender, colourize, render_design
from colorvariants.data.synth.scene import Photo, photograph
from colorvariants.data.synth.writer import write_synthetic_catalog

__all__ = [
    "FAMILIES",
    "Colourway",
    "Design",
    "DesignRender",
    "Photo",
    "StylePlan",
    "SynthConfig",
    "SynthConfigError",
    "colourize",
    "derive_sibling",
    "photograph",
    "plan_catalog",
    "render_design",
    "sample_design",
    "write_synthetic_catalog",
]
