"""The data stage's lists of allowed values, each defined once as a ``Literal`` with its tuple of values.

The CLI offers the tuples as argparse ``choices``, the configs and functions annotate with the ``Literal`` and
check against the tuple, so ``--help``, validation and code cannot disagree. Only ``typing`` is imported here:
the CLI reads these while building its parser, before any heavy import.
"""

from __future__ import annotations

from typing import Literal, get_args

CropMode = Literal["none", "bbox", "mask"]
"""What an image is cropped to before resizing: nothing, the manifest's bbox columns, or the mask's box."""
CROP_MODES: tuple[CropMode, ...] = get_args(CropMode)

OnError = Literal["raise", "skip"]
"""What an unreadable image does: stop the run with its error, or leave the row out and record why."""
ON_ERROR_POLICIES: tuple[OnError, ...] = get_args(OnError)

SavedFormat = Literal["jpg", "png"]
"""The formats ``preprocess`` writes."""
ImageFormatName = Literal["auto", SavedFormat]
"""How ``preprocess`` saves images: ``auto`` (JPEG stays JPEG, others PNG), or always one format."""
IMAGE_FORMAT_NAMES: tuple[ImageFormatName, ...] = get_args(ImageFormatName)

SamplerName = Literal["random", "pk"]
"""How training batches are drawn: shuffled, or P labels x K images."""
SAMPLER_NAMES: tuple[SamplerName, ...] = get_args(SamplerName)

PKLabel = Literal["style", "product"]
"""What a PK batch's label is: the style (colour variants share it) or the product."""
PK_LABELS: tuple[PKLabel, ...] = get_args(PKLabel)


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming ``name``, the allowed values and ``value`` unless it is one of them."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
