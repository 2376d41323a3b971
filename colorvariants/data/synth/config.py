"""``SynthConfig``: every knob of the synthetic catalog, validated; a config always writes the same files."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from colorvariants.errors import ColorVariantsError

FAMILIES: tuple[str, ...] = ("tops", "dresses", "trousers", "skirts", "outerwear", "bags", "shoes")


class SynthConfigError(ColorVariantsError):
    """A synthetic-catalog setting is out of range (the message names the setting and the fix)."""


@dataclass(frozen=True)
class SynthConfig:
    """Settings of the synthetic catalog; the output is a pure function of these (the worker count is not).

    Args:
        styles: number of designs (styles) to draw.
        seed: master seed; styles, products and images each draw from their own stream derived from it.
        size: side of the square images in pixels (training resizes; details are sized to survive 64 px).
        masks: also write each image's foreground mask (PNG, 255 = garment, 0 = background).
        images_per_product: inclusive range of photos per product (each with its own nuisance).
        variants: inclusive range of colour variants (products) per style.
        siblings: inclusive range of styles per sibling cluster; siblings differ from the cluster's first
            style in exactly one design detail and share colourways with it.
        families: garment families to draw from (a subset of ``FAMILIES``).
        nuisance: per-image pose, lighting, backgrounds, sensor noise and varied JPEG quality. Off renders
            every image in the canonical pose on plain white at the top JPEG quality (for self-checks).
        rotation_deg: largest in-plane rotation of the product, either way.
        shift: largest shift of the product as a fraction of the image side.
        scale: range of the product's scale relative to the canonical framing.
        jpeg_quality: inclusive range of JPEG quality.
        supersample: drawing resolution factor before area downsampling (anti-aliased edges).
        fractions: train/val/test fractions, assigned by style from ``seed``.

    >>> SynthConfig(styles=20, size=64).images_per_product
    (1, 2)
    """

    styles: int = 300
    seed: int = 0
    size: int = 128
    masks: bool = True
    images_per_product: tuple[int, int] = (1, 2)
    variants: tuple[int, int] = (2, 5)
    siblings: tuple[int, int] = (2, 3)
    families: tuple[str, ...] = FAMILIES
    nuisance: bool = True
    rotation_deg: float = 7.0
    shift: float = 0.05
    scale: tuple[float, float] = (0.86, 1.04)
    jpeg_quality: tuple[int, int] = (60, 95)
    supersample: int = 2
    fractions: dict[str, float] = field(default_factory=lambda: {"train": 0.7, "val": 0.1, "test": 0.2})

    def __post_init__(self) -> None:
        # Tuples may arrive as lists (from YAML/JSON): normalise so equality and hashing behave.
        for name in ("images_per_product", "variants", "siblings", "scale", "jpeg_quality", "families"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        self._check()

    def _check(self) -> None:
        def fail(setting: str, message: str, fix: str) -> None:
            raise SynthConfigError(f"synthetic catalog setting {setting}: {message} Fix: {fix}")

        if self.seed < 0:
            fail("seed", f"{self.seed} is negative.", "use a seed >= 0.")
        if self.styles < 1:
            fail("styles", f"{self.styles} is below 1.", "ask for at least one style (--styles N).")
        if not 32 <= self.size <= 1024:
            fail("size", f"{self.size} px is outside 32..1024.", "choose --size in 32..1024 (default 128).")
        for name, low in (("images_per_product", 1), ("variants", 2), ("siblings", 1)):
            pair = getattr(self, name)
            if len(pair) != 2 or not low <= pair[0] <= pair[1]:
                fail(name, f"range {'-'.join(map(str, pair))} is invalid.", f"give A-B with {low} <= A <= B.")
        if self.variants[1] > 12:
            fail("variants", f"{self.variants[1]} variants per style is above 12.", "use a range in 2-12.")
        unknown = sorted(set(self.families) - set(FAMILIES))
        if unknown or not self.families:
            given = unknown or list(self.families)
            fail("families", f"unknown or empty families {given}.", f"choose from {FAMILIES}.")
        if not 0.0 <= self.rotation_deg <= 45.0 or not 0.0 <= self.shift <= 0.25:
            fail("rotation_deg/shift", "out of range.", "keep rotation in 0-45 degrees and shift in 0-0.25.")
        if not 0.3 <= self.scale[0] <= self.scale[1] <= 1.3:
            fail("scale", f"{self.scale} is out of range.", "keep 0.3 <= low <= high <= 1.3.")
        if not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            fail("jpeg_quality", f"{self.jpeg_quality} is out of range.", "keep 1 <= low <= high <= 100.")
        if self.supersample not in (1, 2, 3, 4):
            fail("supersample", f"{self.supersample} is not 1-4.", "use 2 (default) or another value in 1-4.")
        if sum(self.fractions.values()) <= 0 or any(v < 0 for v in self.fractions.values()):
            fail("fractions", f"{self.fractions} must be >= 0 with a positive sum.", "e.g. 0.7/0.1/0.2.")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (saved beside the manifest as ``synth.json``)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out
