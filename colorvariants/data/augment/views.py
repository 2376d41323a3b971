"""View recipes: the two augmented views of a positive pair, made batched from uint8 images, one per method.

``SimCLRViews`` and ``MoCoV2Views`` reproduce lightly's ``SimCLRTransform`` / ``MoCoV2Transform`` defaults
(RandomResizedCrop -> HFlip -> RandomApply(ColorJitter) -> RandomGrayscale -> GaussianBlur -> Normalize);
``ColorVariantViews`` is CV-SSL's recipe (strong colour change, mild geometry); ``EvalView`` is the
deterministic resize + normalise used for embedding. Every knob is a dataclass field, so configs and ablations
set them.

Both views of a batch are made as one ``2B`` batch (one resampling pass, one pass per colour op), each image
drawing its own parameters, and split at the end: ``views(images) -> (view_a, view_b)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from colorvariants.data.augment._common import (
    AugmentationError,
    check_prob,
    mask_to_float,
    to_float,
)
from colorvariants.data.augment.backdrop import random_backdrop
from colorvariants.data.augment.blur import gaussian_blur
from colorvariants.data.augment.color import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    JITTER_ORDERS,
    color_jitter,
    normalize,
    random_channel_permutation,
    random_grayscale,
    random_hue_rotate,
    random_luminance_remap,
)
from colorvariants.data.augment.geometry import (
    random_affine_jitter,
    random_hflip,
    random_resized_crop,
    resize,
)
from colorvariants.data.augment.palette import random_palette
from colorvariants.data.augment.recolor import recolor_garment
from colorvariants.data.augment.threads import AUTO, CpuThreads, ViewThreads


def _check_uint8_images(images: Tensor) -> None:
    if images.ndim != 4 or images.shape[1] != 3:
        raise AugmentationError(f"views take a (B, 3, H, W) image batch, got {tuple(images.shape)}.")


def _check_config(config: object, probabilities: tuple[str, ...]) -> None:
    for name in probabilities:
        check_prob(getattr(config, name), name)
    size = getattr(config, "input_size", None)
    if size is not None and size <= 0:
        raise AugmentationError(f"input_size must be positive, got {size}.")
    order = getattr(config, "jitter_order", "sample")
    if order not in JITTER_ORDERS:
        raise AugmentationError(f"jitter_order must be one of {sorted(JITTER_ORDERS)}, got {order!r}.")


@dataclass
class SimCLRViewConfig:
    """lightly's ``SimCLRTransform`` defaults (SimCLR, Chen et al. 2020, appendix A) as config fields.

    ``input_size`` is the output side; None keeps the size of the images given (lightly's default is 224, the
    training images' size plays that role here). ``jitter_order``, ``recolor_prob`` and ``cpu_threads`` are
    ours: the colour-jitter op order per image (torchvision's) or per batch; the share of views whose garment
    is recoloured inside its mask before cropping (0 = lightly's recipe; only used when masks are passed); and
    the torch CPU threads while making views (``"auto"`` by default: 1 or torch's count, whichever the batches
    run faster with, see ``threads.py``; a count fixes it; None keeps torch's setting; ignored on GPU).
    """

    input_size: int | None = None
    cj_prob: float = 0.8
    cj_strength: float = 1.0
    cj_bright: float = 0.8
    cj_contrast: float = 0.8
    cj_sat: float = 0.8
    cj_hue: float = 0.2
    min_scale: float = 0.08
    random_gray_scale: float = 0.2
    gaussian_blur: float = 0.5
    sigmas: tuple[float, float] = (0.1, 2.0)
    vf_prob: float = 0.0
    hf_prob: float = 0.5
    normalize: bool = True
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    jitter_order: str = "sample"
    recolor_prob: float = 0.0
    backdrop_prob: float = 0.0  # ours, 0 = lightly's recipe: share of views given a new background (masks)
    backdrop_grid: int = 3
    cpu_threads: CpuThreads = AUTO


@dataclass
class MoCoV2ViewConfig(SimCLRViewConfig):
    """lightly's ``MoCoV2Transform`` defaults (MoCo v2, Chen et al. 2020, arXiv 2003.04297).

    Weaker colour jitter than SimCLR (0.4, 0.4, 0.4, 0.1) and crops of at least 20% of the image; the rest as
    SimCLR (blur p = 0.5 with sigma 0.1-2, grayscale p = 0.2, flip p = 0.5).
    """

    cj_bright: float = 0.4
    cj_contrast: float = 0.4
    cj_sat: float = 0.4
    cj_hue: float = 0.1
    min_scale: float = 0.2


class SimCLRViews:
    """Two SimCLR views of a uint8 batch, batched on the images' device (lightly's ``SimCLRTransform``).

    >>> a, b = SimCLRViews(SimCLRViewConfig())(torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8))
    >>> a.shape, b.shape
    (torch.Size([4, 3, 32, 32]), torch.Size([4, 3, 32, 32]))
    """

    def __init__(self, config: SimCLRViewConfig | None = None) -> None:
        self.config = config if config is not None else SimCLRViewConfig()
        _check_config(self.config, ("cj_prob", "random_gray_scale", "gaussian_blur", "vf_prob", "hf_prob",
                                    "recolor_prob", "backdrop_prob"))
        self._threads = ViewThreads(self.config.cpu_threads)
        if not 0.0 < self.config.min_scale <= 1.0:
            raise AugmentationError(f"min_scale must be in (0, 1], got {self.config.min_scale}.")

    def __call__(
        self, images: Tensor, masks: Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """``(B, 3, H, W)`` uint8 (or float in [0, 1]) -> two normalised float views ``(B, 3, S, S)``.

        ``masks`` (uint8 0/255 or float ``(B, 1, H, W)``) are used only when ``recolor_prob`` or
        ``backdrop_prob`` is above 0.
        """
        _check_uint8_images(images)
        with self._threads(images.device):
            return self._views(images, masks, generator)

    def _views(
        self, images: Tensor, masks: Tensor | None, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor]:
        cfg = self.config
        b = images.shape[0]
        size = cfg.input_size or images.shape[-1]
        x = to_float(images.repeat(2, 1, 1, 1))  # both views as one 2B batch
        if masks is not None and (cfg.recolor_prob > 0 or cfg.backdrop_prob > 0):
            m = mask_to_float(masks, x[:b]).repeat(2, 1, 1, 1)
            if cfg.recolor_prob > 0:
                x = recolor_garment(x, m, p=cfg.recolor_prob, generator=generator)
            if cfg.backdrop_prob > 0:
                x = random_backdrop(x, m, cfg.backdrop_prob, cfg.backdrop_grid, generator=generator)
        x = random_resized_crop(x, size, scale=(cfg.min_scale, 1.0), generator=generator,
                                hflip_prob=cfg.hf_prob, vflip_prob=cfg.vf_prob)
        s = cfg.cj_strength
        x = color_jitter(x, s * cfg.cj_bright, s * cfg.cj_contrast, s * cfg.cj_sat, s * cfg.cj_hue,
                         p=cfg.cj_prob, generator=generator, order=cfg.jitter_order)
        x = random_grayscale(x, cfg.random_gray_scale, generator=generator)
        if cfg.gaussian_blur > 0:
            x = gaussian_blur(x, cfg.gaussian_blur, cfg.sigmas, generator=generator)
        if cfg.normalize:
            x = normalize(x, cfg.mean, cfg.std)
        return x[:b], x[b:]


class MoCoV2Views(SimCLRViews):
    """Query and key views for MoCo v2 (lightly's ``MoCoV2Transform``): SimCLR pipeline, MoCo v2 defaults."""

    def __init__(self, config: MoCoV2ViewConfig | None = None) -> None:
        super().__init__(config if config is not None else MoCoV2ViewConfig())


@dataclass
class ColorVariantViewConfig:
    """CV-SSL views (Dutta et al. 2021): strong colour change, mild geometry.

    The ranges are ours (the paper's are not public); every one is a knob the benchmark ablates.

    Geometry is mild so both views keep the whole design and the fixed parts line up: zoom within
    ``±scale_jitter``, shift within ``±shift_jitter`` of the side, rotation within ``±rotate_deg``; no flip by
    default (a flip swaps the left and right parts). Colour, in order: garment recolour inside the mask
    (``recolor_*``, only when masks are given), hue rotation over the full circle,
    brightness/contrast/saturation jitter, luminance remap (gamma curve, optional inversion), channel
    permutation, grayscale, optional blur.
    """

    input_size: int | None = None
    scale_jitter: float = 0.1
    shift_jitter: float = 0.05
    # Two photos of a design differ by pose and background too: rotation and a new backdrop in half the views
    # (BENCHMARKS.md, chosen on the val split: held-out recall@1 0.385 -> 0.592 on the 300-style catalog).
    rotate_deg: float = 7.0
    hf_prob: float = 0.0
    hue_prob: float = 1.0
    hue_degrees: float = 180.0
    cj_prob: float = 0.8
    cj_bright: float = 0.4
    cj_contrast: float = 0.4
    cj_sat: float = 0.8
    jitter_order: str = "sample"
    luminance_prob: float = 0.5
    luminance_gamma: tuple[float, float] = (0.25, 4.0)
    luminance_invert_prob: float = 0.2
    channel_perm_prob: float = 0.3
    gray_prob: float = 0.2
    blur_prob: float = 0.0
    sigmas: tuple[float, float] = (0.1, 2.0)
    recolor_prob: float = 0.5
    recolor_hue: bool = True
    recolor_luminance: bool = True
    recolor_saturation: tuple[float, float] = (0.6, 1.5)
    recolor_tint: float = 0.15
    recolor_gamma: tuple[float, float] = (0.3, 3.0)
    recolor_invert_prob: float = 0.3
    backdrop_prob: float = 0.5  # share of views given a new random background outside the mask (backdrop.py)
    backdrop_grid: int = 3
    palette_prob: float = 0.0  # share of views whose garment gets a new colourway, band by band (palette.py)
    palette_slots: int = 3
    normalize: bool = True
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    cpu_threads: CpuThreads = AUTO  # torch CPU threads while making views (see SimCLRViewConfig)


class ColorVariantViews:
    """Two colour-variant views of a uint8 batch for CV-SSL; masks enable the garment recolour.

    >>> views = ColorVariantViews(ColorVariantViewConfig(input_size=16))
    >>> a, b = views(torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8))
    >>> a.shape
    torch.Size([2, 3, 16, 16])
    """

    def __init__(self, config: ColorVariantViewConfig | None = None) -> None:
        self.config = config if config is not None else ColorVariantViewConfig()
        probabilities = ("hf_prob", "hue_prob", "cj_prob", "luminance_prob", "luminance_invert_prob",
                         "channel_perm_prob", "gray_prob", "blur_prob", "recolor_prob", "recolor_invert_prob",
                         "backdrop_prob", "palette_prob")
        _check_config(self.config, probabilities)
        self._threads = ViewThreads(self.config.cpu_threads)

    def __call__(
        self, images: Tensor, masks: Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """``(B, 3, H, W)`` uint8 (or float in [0, 1]) -> two normalised float views ``(B, 3, S, S)``."""
        _check_uint8_images(images)
        with self._threads(images.device):
            return self._views(images, masks, generator)

    def _views(
        self, images: Tensor, masks: Tensor | None, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor]:
        cfg = self.config
        b = images.shape[0]
        size = cfg.input_size or images.shape[-1]
        x = to_float(images.repeat(2, 1, 1, 1))
        mask_ops = (cfg.recolor_prob, cfg.backdrop_prob, cfg.palette_prob)
        use_masks = masks is not None and any(p > 0 for p in mask_ops)
        if use_masks and masks is not None:
            # the mask rides along as a 4th channel, so it follows the warp
            x = torch.cat([x, mask_to_float(masks, x[:b]).repeat(2, 1, 1, 1)], dim=1)
        if cfg.scale_jitter > 0 or cfg.shift_jitter > 0 or cfg.rotate_deg > 0 or size != x.shape[-1]:
            x = random_affine_jitter(x, cfg.scale_jitter, cfg.shift_jitter, cfg.rotate_deg, size=size,
                                     generator=generator)
        if cfg.hf_prob > 0:
            x = random_hflip(x, cfg.hf_prob, generator=generator)
        if use_masks:
            x, m = x[:, :3].contiguous(), x[:, 3:]
            if cfg.backdrop_prob > 0:
                x = random_backdrop(x, m, cfg.backdrop_prob, cfg.backdrop_grid, generator=generator)
            if cfg.palette_prob > 0:
                x = random_palette(x, m, cfg.palette_prob, cfg.palette_slots, generator=generator)
            if cfg.recolor_prob > 0:
                x = recolor_garment(
                    x, m, hue=cfg.recolor_hue, luminance=cfg.recolor_luminance, p=cfg.recolor_prob,
                    generator=generator, saturation=cfg.recolor_saturation, tint=cfg.recolor_tint,
                    gamma=cfg.recolor_gamma, invert_prob=cfg.recolor_invert_prob,
                )
        if cfg.hue_prob > 0:
            x = random_hue_rotate(x, cfg.hue_prob, cfg.hue_degrees, generator=generator)
        if cfg.cj_prob > 0:
            x = color_jitter(x, cfg.cj_bright, cfg.cj_contrast, cfg.cj_sat, 0.0, p=cfg.cj_prob,
                             generator=generator, order=cfg.jitter_order)
        if cfg.luminance_prob > 0:
            x = random_luminance_remap(x, cfg.luminance_prob, cfg.luminance_gamma, cfg.luminance_invert_prob,
                                       generator=generator)
        if cfg.channel_perm_prob > 0:
            x = random_channel_permutation(x, cfg.channel_perm_prob, generator=generator)
        if cfg.gray_prob > 0:
            x = random_grayscale(x, cfg.gray_prob, generator=generator)
        if cfg.blur_prob > 0:
            x = gaussian_blur(x, cfg.blur_prob, cfg.sigmas, generator=generator)
        if cfg.normalize:
            x = normalize(x, cfg.mean, cfg.std)
        return x[:b], x[b:]


@dataclass
class EvalView:
    """The deterministic view for embedding: resize to ``size`` and normalise; one tensor, not a pair.

    Resizing is antialiased bilinear; ``size=None`` keeps the images' size.

    >>> EvalView(16)(torch.zeros(2, 3, 32, 32, dtype=torch.uint8)).shape
    torch.Size([2, 3, 16, 16])
    """

    size: int | None = None
    normalize: bool = True
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __call__(
        self, images: Tensor, masks: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """``(B, 3, H, W)`` uint8 (or float in [0, 1]) -> normalised float ``(B, 3, size, size)``."""
        _check_uint8_images(images)
        x = to_float(images)
        if self.size is not None:
            x = resize(x, self.size)
        return normalize(x, self.mean, self.std) if self.normalize else x
