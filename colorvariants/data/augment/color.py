"""Batched colour augmentations with per-image parameters (ColorJitter's ops, grayscale, hue, luminance).

Also hue rotation over the full circle, channel permutation, luminance remap and ImageNet normalisation.

The deterministic ops (``adjust_*``) take a float or a ``(B,)`` tensor of factors and reproduce
``torchvision.transforms.functional`` on float tensors (same formulas: ``_blend``, ``_rgb2hsv``); the
``random_*`` ops draw one parameter per image from a ``torch.Generator`` and apply to a random subset.
lightly's PIL pipeline rounds to uint8 after every op; here everything stays float, so results differ from
lightly's by at most that rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from colorvariants.data.augment._common import (
    GRAY_WEIGHTS,
    AugmentationError,
    apply_to_subset,
    as_batch_param,
    bernoulli,
    check_images,
    check_prob,
    log_uniform,
    rand,
    uniform,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The 5 non-identity orders of (R, G, B): a permutation that is applied always changes the image.
_CHANNEL_PERMUTATIONS = ((0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))


def rgb_to_grayscale(x: Tensor) -> Tensor:
    """Luma ``(B, 1, H, W)`` with ITU-R BT.601 weights (torchvision's 0.2989, 0.587, 0.114)."""
    r, g, b = x.unbind(1)
    return (r * GRAY_WEIGHTS[0]).add_(g, alpha=GRAY_WEIGHTS[1]).add_(b, alpha=GRAY_WEIGHTS[2]).unsqueeze(1)


def _blend(img1: Tensor, img2: Tensor, ratio: Tensor) -> Tensor:
    """torchvision's ``_blend``: ``ratio * img1 + (1 - ratio) * img2`` clamped to [0, 1]."""
    return (ratio * img1 + (1.0 - ratio) * img2).clamp_(0.0, 1.0)


def adjust_brightness(x: Tensor, factor: float | Tensor) -> Tensor:
    """Multiply by ``factor`` per image (torchvision ``adjust_brightness``: blend with black)."""
    return (x * as_batch_param(factor, x.shape[0], x)).clamp_(0.0, 1.0)


def adjust_contrast(x: Tensor, factor: float | Tensor) -> Tensor:
    """Blend each image with the mean of its grayscale (torchvision ``adjust_contrast``)."""
    mean = rgb_to_grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(x, mean, as_batch_param(factor, x.shape[0], x))


def adjust_saturation(x: Tensor, factor: float | Tensor) -> Tensor:
    """Blend each image with its own grayscale (torchvision ``adjust_saturation``; 0 gives gray)."""
    return _blend(x, rgb_to_grayscale(x), as_batch_param(factor, x.shape[0], x))


def rgb_to_hsv(x: Tensor) -> Tensor:
    """RGB -> HSV (all in [0, 1]) for a batch: torchvision's ``_rgb2hsv`` math (after Pillow's Convert.c).

    The hue numerator is picked by which channel is the maximum (R first, then G, as torchvision breaks ties)
    and divided once, instead of three divided channel distances.
    """
    r, g, b = x.unbind(1)
    maxc = x.amax(dim=1)
    minc = x.amin(dim=1)
    eqc = maxc == minc  # gray pixels: hue and saturation are 0, and no division by zero happens
    cr = maxc - minc
    ones = torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    is_r = maxc == r
    is_g = (maxc == g) & ~is_r
    # max = R: (G - B) / C; max = G: 2 + (B - R) / C; max = B: 4 + (R - G) / C   (in sixths of the circle)
    numerator = torch.where(is_r, g - b, torch.where(is_g, b - r, r - g))
    offset = torch.where(is_r, 0.0, torch.where(is_g, 2.0, 4.0))
    h6 = (numerator / torch.where(eqc, ones, cr)).add_(offset)
    h = torch.remainder(h6.div_(6.0), 1.0)  # gray pixels: max = R and numerator 0, so hue 0
    return torch.stack((h, s, maxc), dim=1)


_HSV_CONSTANTS: dict[tuple[torch.device, torch.dtype], tuple[Tensor, Tensor, Tensor]] = {}


def _hsv_constants(like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    key = (like.device, like.dtype)
    if key not in _HSV_CONSTANTS:
        def col(*v: float) -> Tensor:
            return torch.tensor(v, device=like.device, dtype=like.dtype).view(1, 3, 1, 1)

        _HSV_CONSTANTS[key] = (col(3.0, 2.0, 4.0), col(1.0, -1.0, -1.0), col(-1.0, 2.0, 2.0))
    return _HSV_CONSTANTS[key]


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    """HSV -> RGB for a batch; equals torchvision's ``_hsv2rgb`` (sector table) in closed form.

    The fully saturated colour of hue ``h`` is ``R' = clamp(|6h - 3| - 1)``, ``G' = clamp(2 - |6h - 2|)``,
    ``B' = clamp(2 - |6h - 4|)`` (clamped to [0, 1]), and ``RGB = v * (1 - s) + v * s * RGB'``: the same
    piecewise-linear values as the p/q/t sector table, in a few fused passes instead of a 6-way one-hot
    einsum.
    """
    h, s, v = (t.unsqueeze(1) for t in hsv.unbind(1))
    centre, sign, bias = _hsv_constants(hsv)
    rgb_full = (h * 6.0 - centre).abs_().mul_(sign).add_(bias).clamp_(0.0, 1.0)
    vs = v * s
    return rgb_full.mul_(vs).add_(v - vs)


def adjust_hue(x: Tensor, shift: float | Tensor) -> Tensor:
    """Rotate hue by ``shift`` turns per image: torchvision's ``adjust_hue(hue_factor)``, any real value.

    Same result as ``hsv_to_rgb`` of the shifted ``rgb_to_hsv`` (torchvision's math) in one fused pass: with
    ``v = max``, ``c = max - min`` the output is ``min + c * RGB'(h + shift)``, so saturation and value never
    need to be materialised. torchvision restricts the factor to [-0.5, 0.5]; here any value wraps around.
    """
    r, g, b = x.unbind(1)
    maxc = torch.maximum(torch.maximum(r, g), b)
    minc = torch.minimum(torch.minimum(r, g), b)
    chroma = maxc - minc
    is_r = maxc == r
    is_g = (maxc == g) & ~is_r
    # hue in sixths: max = R: (G - B) / C; max = G: 2 + (B - R) / C; max = B: 4 + (R - G) / C
    numerator = torch.where(
        is_r, g - b, torch.where(is_g, (b - r).add_(chroma, alpha=2.0), (r - g).add_(chroma, alpha=4.0))
    )
    # gray pixels (C = 0) have numerator 0 (max = R, G = B), so any positive divisor gives hue 0
    h6 = numerator.div_(chroma.clamp(min=1e-12)).unsqueeze(1)
    h6 = torch.remainder(h6.add_(as_batch_param(shift, x.shape[0], x), alpha=6.0), 6.0)
    centre, sign, bias = _hsv_constants(x)
    rgb_full = (h6 - centre).abs_().mul_(sign).add_(bias).clamp_(0.0, 1.0)
    return rgb_full.mul_(chroma.unsqueeze(1)).add_(minc.unsqueeze(1))


def hue_rotate(x: Tensor, degrees: float | Tensor) -> Tensor:
    """Rotate hue by ``degrees`` (any angle, full circle; one value or one per image), as HSV does."""
    check_images(x)
    deg = degrees / 360.0 if isinstance(degrees, Tensor) else float(degrees) / 360.0
    return adjust_hue(x, deg)


def random_hue_rotate(
    x: Tensor, p: float = 1.0, max_degrees: float = 180.0, generator: torch.Generator | None = None
) -> Tensor:
    """Rotate hue by an angle uniform in ``[-max_degrees, max_degrees]`` for a random ``p`` share of images.

    The default covers the full circle (CV-SSL, Dutta et al. 2021: any colour of a design is a positive).
    """
    check_images(x)
    b = x.shape[0]
    shift = uniform(b, -max_degrees / 360.0, max_degrees / 360.0, generator, x.device)
    return apply_to_subset(x, bernoulli(b, p, generator, x.device), adjust_hue, shift)


def jitter_range(value: float | Sequence[float], name: str, center: float = 1.0, bound: float | None = None
                 ) -> tuple[float, float]:
    """torchvision ColorJitter's rule: ``v`` -> ``[max(0, center - v), center + v]``; a pair is kept."""
    if isinstance(value, (int, float)):
        if value < 0:
            raise AugmentationError(f"{name} jitter must be non-negative, got {value}.")
        low, high = center - float(value), center + float(value)
        if center == 1.0:
            low = max(0.0, low)
    else:
        low, high = (float(v) for v in value)
    if low > high or (bound is not None and (low < -bound or high > bound)):
        raise AugmentationError(f"{name} jitter range [{low}, {high}] is invalid"
                                + (f" (must lie within [-{bound}, {bound}])." if bound is not None else "."))
    return low, high


_JITTER_OPS: tuple[Callable[[Tensor, Tensor], Tensor], ...] = (
    adjust_brightness,
    adjust_contrast,
    adjust_saturation,
    adjust_hue,
)


def _jitter_per_sample_order(x: Tensor, selected: Tensor, factors: list[Tensor], active: list[bool],
                             generator: torch.Generator | None) -> Tensor:
    """Each selected image runs the 4 ops in its own random order (torchvision's order, per image)."""
    b = x.shape[0]
    order = rand((b, len(_JITTER_OPS)), generator, x.device).argsort(dim=1)  # a uniform permutation per image
    x = x.clone()  # one working copy, then in-place write-backs
    for stage in range(len(_JITTER_OPS)):
        for op_index, op in enumerate(_JITTER_OPS):
            if active[op_index]:
                chosen = selected & (order[:, stage] == op_index)
                x = apply_to_subset(x, chosen, op, factors[op_index], inplace=True)
    return x


def _jitter_per_batch_order(x: Tensor, selected: Tensor, factors: list[Tensor], active: list[bool],
                            generator: torch.Generator | None) -> Tensor:
    """All selected images run the 4 ops in one random order drawn for the batch (cheapest: one gather)."""
    order = rand((len(_JITTER_OPS),), generator, x.device).argsort().tolist()
    ops = [(_JITTER_OPS[i], i) for i in order if active[i]]

    def run(xs: Tensor, *fs: Tensor) -> Tensor:
        for op, i in ops:
            xs = op(xs, fs[i])
        return xs

    return apply_to_subset(x, selected, run, *factors)


JitterOrder = Callable[[Tensor, Tensor, list[Tensor], list[bool], "torch.Generator | None"], Tensor]

JITTER_ORDERS: dict[str, JitterOrder] = {
    "sample": _jitter_per_sample_order,
    "batch": _jitter_per_batch_order,
}


def color_jitter(
    x: Tensor,
    brightness: float | Sequence[float] = 0.8,
    contrast: float | Sequence[float] = 0.8,
    saturation: float | Sequence[float] = 0.8,
    hue: float | Sequence[float] = 0.2,
    p: float = 0.8,
    generator: torch.Generator | None = None,
    order: str = "sample",
) -> Tensor:
    """``RandomApply([ColorJitter(brightness, contrast, saturation, hue)], p)`` per image, batched.

    Factors are drawn per image as torchvision does: brightness/contrast/saturation uniform in
    ``[max(0, 1 - v), 1 + v]``, hue shift uniform in ``[-h, h]`` turns (a pair gives the range directly).
    torchvision applies the four ops in a random order per call, i.e. per image in a DataLoader. ``order``:
    ``"sample"`` (default) keeps that: the batch runs four stages and in each stage every selected image gets
    the op its own permutation puts there (one gather/scatter per op and stage, about 2x the cost of the
    jitter); ``"batch"`` draws one order for the whole batch (cheapest). Defaults are lightly's SimCLR ones
    (Chen et al. 2020: strength 1.0 -> 0.8, 0.8, 0.8, 0.2, applied with p = 0.8).

    Raises:
        AugmentationError: a negative strength, a hue range outside [-0.5, 0.5], or an unknown ``order``.

    >>> color_jitter(torch.rand(8, 3, 16, 16), generator=torch.Generator().manual_seed(0)).shape
    torch.Size([8, 3, 16, 16])
    """
    check_images(x)
    check_prob(p)
    if order not in JITTER_ORDERS:
        raise AugmentationError(
            f"unknown colour-jitter order {order!r}; choose one of {sorted(JITTER_ORDERS)}."
        )
    b, dev = x.shape[0], x.device
    ranges = (
        jitter_range(brightness, "brightness"),
        jitter_range(contrast, "contrast"),
        jitter_range(saturation, "saturation"),
        jitter_range(hue, "hue", center=0.0, bound=0.5),
    )
    identity = (1.0, 1.0, 1.0, 0.0)
    factors = [uniform(b, lo, hi, generator, dev) for lo, hi in ranges]
    active = [not (lo == hi == same) for (lo, hi), same in zip(ranges, identity, strict=True)]
    selected = bernoulli(b, p, generator, dev)
    return JITTER_ORDERS[order](x, selected, factors, active, generator)


def random_grayscale(x: Tensor, p: float = 0.2, generator: torch.Generator | None = None) -> Tensor:
    """Replace a random ``p`` share of the images by their 3-channel BT.601 grayscale (RandomGrayscale)."""
    check_images(x)
    gray = bernoulli(x.shape[0], p, generator, x.device).view(-1, 1, 1, 1)
    return torch.where(gray, rgb_to_grayscale(x).expand_as(x), x)


def random_channel_permutation(x: Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """Shuffle the RGB channels of a random ``p`` share of the images (one of the 5 non-identity orders each).

    A channel swap turns red into green or blue at the same luma structure: a cheap colour variant.
    """
    check_images(x)
    b, dev = x.shape[0], x.device
    table = torch.tensor(_CHANNEL_PERMUTATIONS, device=dev)
    choice = (rand((b,), generator, dev) * len(_CHANNEL_PERMUTATIONS)).long().clamp_(max=len(table) - 1)
    perm = torch.where(
        bernoulli(b, p, generator, dev).unsqueeze(1), table[choice], torch.arange(3, device=dev).expand(b, 3)
    )
    return x[torch.arange(b, device=dev).unsqueeze(1), perm]


def adjust_luminance(x: Tensor, gamma: float | Tensor, invert: bool | Tensor = False) -> Tensor:
    """Remap each image's luma ``Y`` to ``Y ** gamma`` (then ``1 - Y`` where ``invert``), keeping its chroma.

    The chroma ``RGB - Y`` is kept and only ``Y`` changes, so a black garment (low Y, no chroma) becomes light
    gray, not a noisy saturated colour as with HSV's V; a monotone curve keeps every edge and pattern
    (inversion flips their polarity). ``gamma < 1`` lightens (white stays white, dark turns light), ``gamma >
    1`` darkens.
    """
    n = x.shape[0]
    y = rgb_to_grayscale(x)
    new_y = y.clamp(min=1e-6).pow(as_batch_param(gamma, n, x))
    if isinstance(invert, Tensor) or invert:
        inv = as_batch_param(invert.float() if isinstance(invert, Tensor) else 1.0, n, x) > 0.5
        new_y = torch.where(inv, 1.0 - new_y, new_y)
    return (x + (new_y - y)).clamp_(0.0, 1.0)


def random_luminance_remap(
    x: Tensor,
    p: float = 0.5,
    gamma: tuple[float, float] = (0.25, 4.0),
    invert_prob: float = 0.25,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Change the lightness of a random ``p`` share of images as colour variants do (black vs white shirt).

    Per image: a gamma curve on the luma, log-uniform in ``gamma`` (0.25 maps luma 0.1 to 0.56 and 0.9 to
    0.97; 4 maps 0.8 to 0.41), then with probability ``invert_prob`` inversion ``Y -> 1 - Y``; chroma is kept
    (see ``adjust_luminance``). Without a mask this also changes the background; ``recolor_garment`` is the
    masked version.
    """
    check_images(x)
    check_prob(invert_prob, "invert_prob")
    if not 0.0 < gamma[0] <= gamma[1]:
        raise AugmentationError(f"gamma must be an increasing positive range, got {gamma}.")
    b, dev = x.shape[0], x.device
    gammas = log_uniform(b, gamma[0], gamma[1], generator, dev)
    invert = bernoulli(b, invert_prob, generator, dev).float()
    return apply_to_subset(x, bernoulli(b, p, generator, dev), adjust_luminance, gammas, invert)


def normalize(
    x: Tensor, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
) -> Tensor:
    """``(x - mean) / std`` per channel (ImageNet statistics by default, what pretrained backbones expect)."""
    check_images(x)
    mean_t = torch.as_tensor(mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    inv_std = 1.0 / torch.as_tensor(std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - mean_t).mul_(inv_std)
