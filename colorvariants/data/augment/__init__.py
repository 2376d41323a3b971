"""Batched tensor augmentations on float ``(B, 3, H, W)`` in [0, 1], and the view recipes of every method.

Images are decoded once into uint8 batches; every augmentation runs on the whole batch (CPU or GPU) with
per-image random parameters drawn from a ``torch.Generator`` (the global RNG when None), instead of PIL per
image.
Modules: ``geometry`` (crops, flips, affine jitter), ``color`` (torchvision's ColorJitter ops, grayscale, hue
rotation, channel permutation, luminance remap, normalise), ``blur``, ``recolor`` (garment-only recolour
inside a mask), ``palette`` (a new colourway, tone band by tone band, inside the mask), ``backdrop`` (a new
background outside the mask), ``parts`` (CV-SSL's fixed part crops) and ``views`` (SimCLR, MoCo v2, CV-SSL
and eval recipes).
"""

from __future__ import annotations

from colorvariants.data.augment._common import AugmentationError, to_float
from colorvariants.data.augment.backdrop import random_backdrop
from colorvariants.data.augment.blur import blur_with_sigma, gaussian_blur
from colorvariants.data.augment.color import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_luminance,
    adjust_saturation,
    color_jitter,
    hsv_to_rgb,
    hue_rotate,
    normalize,
    random_channel_permutation,
    random_grayscale,
    random_hue_rotate,
    random_luminance_remap,
    rgb_to_grayscale,
    rgb_to_hsv,
)
from colorvariants.data.augment.geometry import (
    hflip,
    random_affine_jitter,
    random_hflip,
    random_resized_crop,
    resize,
    resized_crop,
    sample_resized_crop_boxes,
)
from colorvariants.data.augment.palette import palette_remap, random_palette
from colorvariants.data.augment.parts import (
    PART_LAYOUTS,
    PartBox,
    crop_parts,
    distinct_parts,
    part_boxes,
    part_cell_weights,
    pool_parts,
    register_part_layout,
)
from colorvariants.data.augment.recolor import recolor, recolor_garment
from colorvariants.data.augment.views import (
    ColorVariantViewConfig,
    ColorVariantViews,
    EvalView,
    MoCoV2ViewConfig,
    MoCoV2Views,
    SimCLRViewConfig,
    SimCLRViews,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PART_LAYOUTS",
    "AugmentationError",
    "ColorVariantViewConfig",
    "ColorVariantViews",
    "EvalView",
    "MoCoV2ViewConfig",
    "MoCoV2Views",
    "PartBox",
    "SimCLRViewConfig",
    "SimCLRViews",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_hue",
    "adjust_luminance",
    "adjust_saturation",
    "blur_with_sigma",
    "color_jitter",
    "crop_parts",
    "distinct_parts",
    "gaussian_blur",
    "hflip",
    "hsv_to_rgb",
    "hue_rotate",
    "normalize",
    "palette_remap",
    "part_boxes",
    "part_cell_weights",
    "pool_parts",
    "random_affine_jitter",
    "random_backdrop",
    "random_channel_permutation",
    "random_grayscale",
    "random_hflip",
    "random_hue_rotate",
    "random_luminance_remap",
    "random_palette",
    "random_resized_crop",
    "recolor",
    "recolor_garment",
    "register_part_layout",
    "resize",
    "resized_crop",
    "rgb_to_grayscale",
    "rgb_to_hsv",
    "sample_resized_crop_boxes",
    "to_float",
]
