"""Recolour the garment, not the photo: a colour variant made inside the foreground mask (method.md, sec. 4).

Real colour variants are the same garment dyed differently, shot on the same background. Whole-image colour
jitter also recolours the background and the skin, which colour variants never do. Here each image is split
into luma ``Y`` and chroma ``(Cb, Cr)`` (ITU-R BT.601, full range): the chroma plane is rotated (a hue
rotation that leaves ``Y`` untouched), scaled (saturation) and offset (a tint, so a gray or white garment can
become a colour); the luma goes through a monotone curve (gamma, optionally inverted, so a black garment can
become white), which keeps every edge, fold and print of the luminance structure. The result is blended in by
the mask, so pixels with mask 0 are returned bit for bit.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from colorvariants.data.augment._common import (
    AugmentationError,
    apply_to_subset,
    bernoulli,
    check_images,
    check_prob,
    log_uniform,
    mask_to_float,
    uniform,
)

# BT.601 full-range YCbCr (JPEG): Cb = (B - Y) / 1.772, Cr = (R - Y) / 1.402.
_KR, _KG, _KB = 0.299, 0.587, 0.114


def rgb_to_ycbcr(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Split ``(B, 3, H, W)`` RGB into BT.601 luma and chroma, each ``(B, 1, H, W)`` (chroma centred on 0)."""
    r, g, b = (t.unsqueeze(1) for t in x.unbind(1))
    y = (r * _KR).add_(g, alpha=_KG).add_(b, alpha=_KB)
    return y, (b - y).mul_(0.5 / (1.0 - _KB)), (r - y).mul_(0.5 / (1.0 - _KR))


def ycbcr_to_rgb(y: Tensor, cb: Tensor, cr: Tensor) -> Tensor:
    """Inverse of ``rgb_to_ycbcr``, clamped to [0, 1] (gamut clipping)."""
    r = y + cr * (2.0 * (1.0 - _KR))
    b = y + cb * (2.0 * (1.0 - _KB))
    g = (y - _KR * r - _KB * b).div_(_KG)
    return torch.cat([r, g, b], dim=1).clamp_(0.0, 1.0)


def recolor(
    x: Tensor,
    mask: Tensor,
    angle: Tensor,
    saturation: Tensor,
    tint: Tensor,
    gamma: Tensor,
    invert: Tensor,
) -> Tensor:
    """Garment recolour with given per-image parameters (each a ``(B,)`` tensor; see ``recolor_garment``).

    ``angle``: chroma rotation in radians; ``saturation``: chroma scale; ``tint``: ``(B, 2)`` chroma offset
    ``(Cb, Cr)``; ``gamma``: luma curve exponent (1 keeps the luma); ``invert``: 1 to map luma ``Y -> 1 - Y``.
    ``mask`` is float ``(B, 1, H, W)`` in [0, 1]; where it is 0 the output equals ``x`` exactly.
    """
    b = x.shape[0]
    col = (lambda t: t.to(x.dtype).view(b, 1, 1, 1))  # noqa: E731 - local reshape helper
    y, cb, cr = rgb_to_ycbcr(x)
    cos, sin = col(torch.cos(angle) * saturation), col(torch.sin(angle) * saturation)
    tint = tint.to(x.dtype).view(b, 2, 1, 1)
    new_cb = cb * cos - cr * sin + tint[:, 0:1]
    new_cr = cb * sin + cr * cos + tint[:, 1:2]
    new_y = y.clamp(min=1e-6).pow(col(gamma))
    inv = col(invert)
    new_y = new_y + inv * (1.0 - 2.0 * new_y)  # 1 - Y where invert, Y elsewhere
    recoloured = ycbcr_to_rgb(new_y, new_cb, new_cr)
    return torch.lerp(x, recoloured, mask)  # weight 0 returns x exactly


def recolor_garment(
    x: Tensor,
    mask: Tensor,
    *,
    hue: bool = True,
    luminance: bool = True,
    p: float = 1.0,
    generator: torch.Generator | None = None,
    saturation: tuple[float, float] = (0.6, 1.5),
    tint: float = 0.15,
    gamma: tuple[float, float] = (0.3, 3.0),
    invert_prob: float = 0.3,
) -> Tensor:
    """Recolour the garment inside ``mask`` for a random ``p`` share of the images; the background stays.

    Per image, when ``hue``: chroma rotated by an angle uniform over the full circle, scaled by a factor
    uniform in ``saturation``, plus a tint of length uniform in ``[0, tint]`` at a random angle (greys get a
    colour); when ``luminance``: luma through a gamma curve log-uniform in ``gamma`` and inverted with
    probability ``invert_prob`` (a dark garment turns light and vice versa). These ranges are ours (no paper
    gives them); every one is a knob of the view recipes.

    Args:
        x: float ``(B, 3, H, W)`` in [0, 1].
        mask: foreground mask ``(B, 1, H, W)``: float in [0, 1] or uint8 0/255 (the cache's masks).
        hue: change the hue/palette.
        luminance: change the lightness.
        p: share of the images recoloured.
        generator: source of the per-image parameters (the global RNG when None).

    Raises:
        AugmentationError: the mask does not match the images or a range is invalid.

    >>> x, m = torch.rand(2, 3, 8, 8), torch.zeros(2, 1, 8, 8)
    >>> bool((recolor_garment(x, m) == x).all())
    True
    """
    check_images(x)
    check_prob(p)
    check_prob(invert_prob, "invert_prob")
    if not (0.0 <= saturation[0] <= saturation[1]) or not (0.0 < gamma[0] <= gamma[1]) or tint < 0:
        raise AugmentationError(
            f"invalid recolour ranges: saturation {saturation}, gamma {gamma}, tint {tint}."
        )
    m = mask_to_float(mask, x)
    b, dev = x.shape[0], x.device
    angle = uniform(b, 0.0, 2.0 * math.pi, generator, dev)
    sat = uniform(b, saturation[0], saturation[1], generator, dev)
    tint_len = uniform(b, 0.0, tint, generator, dev)
    tint_dir = uniform(b, 0.0, 2.0 * math.pi, generator, dev)
    tint_vec = torch.stack([torch.cos(tint_dir), torch.sin(tint_dir)], dim=1) * tint_len.unsqueeze(1)
    gam = log_uniform(b, gamma[0], gamma[1], generator, dev)
    inv = bernoulli(b, invert_prob, generator, dev).float()
    if not hue:
        angle, sat, tint_vec = torch.zeros_like(angle), torch.ones_like(sat), torch.zeros_like(tint_vec)
    if not luminance:
        gam, inv = torch.ones_like(gam), torch.zeros_like(inv)
    selected = bernoulli(b, p, generator, dev)
    params = (m, angle, sat, tint_vec, gam, inv)
    return apply_to_subset(x, selected, recolor, *params)
