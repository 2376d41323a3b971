"""Garment recolour: background kept bit for bit, hue changed inside the mask, luma structure kept."""

from __future__ import annotations

import math

import pytest
import torch

from colorvariants.data.augment import (
    AugmentationError,
    recolor,
    recolor_garment,
    rgb_to_grayscale,
    rgb_to_hsv,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _shirts(n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Red garments with a striped pattern on a white background; mask = the garment."""
    x = torch.ones(n, 3, 16, 16)
    mask = torch.zeros(n, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1.0
    garment = torch.tensor([0.8, 0.1, 0.1]).view(1, 3, 1, 1).expand(n, 3, 8, 8).clone()
    garment[..., ::2, :] *= 0.6  # stripes: the luminance structure
    x[..., 4:12, 4:12] = garment
    return x, mask


def test_background_unchanged_and_hue_changes_inside() -> None:
    x, mask = _shirts()
    out = recolor_garment(x, mask, generator=_gen(1))
    outside = mask.expand_as(x) == 0
    assert torch.equal(out[outside], x[outside])
    hue_in = rgb_to_hsv(out)[:, 0, 4:12, 4:12]
    hue_red = rgb_to_hsv(x)[:, 0, 4:12, 4:12]
    circ = torch.minimum((hue_in - hue_red).abs(), 1 - (hue_in - hue_red).abs()).mean(dim=(1, 2))
    assert (circ > 0.05).float().mean() > 0.7  # most garments got another hue


def test_uint8_mask_accepted() -> None:
    x, mask = _shirts(4)
    a = recolor_garment(x, mask, generator=_gen(2))
    b = recolor_garment(x, (mask * 255).to(torch.uint8), generator=_gen(2))
    torch.testing.assert_close(a, b)


def test_hue_only_keeps_luminance_structure() -> None:
    x, mask = _shirts(8)
    out = recolor_garment(x, mask, luminance=False, generator=_gen(3))
    y_out = rgb_to_grayscale(out)[:, 0, 4:12, 4:12]
    # the stripes are still there: even rows darker than odd rows in every image
    assert torch.all(y_out[:, ::2].mean(dim=(1, 2)) < y_out[:, 1::2].mean(dim=(1, 2)))
    # without gamut clipping the luma is kept exactly (a YCbCr chroma rotation leaves Y alone)
    params = dict(angle=torch.full((8,), math.pi / 2), saturation=torch.ones(8), tint=torch.zeros(8, 2),
                  gamma=torch.ones(8), invert=torch.zeros(8))
    mid = x * 0.5 + 0.25
    recoloured = recolor(mid, mask, **params)
    torch.testing.assert_close(rgb_to_grayscale(recoloured), rgb_to_grayscale(mid), atol=1e-4, rtol=0)


def test_dark_garment_can_become_light() -> None:
    x, mask = _shirts(4)
    x[..., 4:12, 4:12] = 0.05  # a black garment
    out = recolor(x, mask, angle=torch.zeros(4), saturation=torch.ones(4), tint=torch.zeros(4, 2),
                  gamma=torch.ones(4), invert=torch.ones(4))
    assert rgb_to_grayscale(out)[:, 0, 4:12, 4:12].min() > 0.9
    assert torch.equal(out[..., :4, :], x[..., :4, :])


def test_gray_garment_gets_a_colour_from_the_tint() -> None:
    x = torch.full((1, 3, 4, 4), 0.5)
    mask = torch.ones(1, 1, 4, 4)
    out = recolor(x, mask, angle=torch.zeros(1), saturation=torch.ones(1), tint=torch.tensor([[0.0, 0.15]]),
                  gamma=torch.ones(1), invert=torch.zeros(1))
    assert rgb_to_hsv(out)[0, 1].min() > 0.2  # saturated now


def test_probability_determinism_and_no_op() -> None:
    x, mask = _shirts(400)
    a = recolor_garment(x, mask, p=0.3, generator=_gen(4))
    assert torch.equal(a, recolor_garment(x, mask, p=0.3, generator=_gen(4)))
    changed = (a - x).abs().flatten(1).amax(1) > 1e-4
    assert 0.22 < changed.float().mean().item() < 0.38
    assert torch.equal(recolor_garment(x, torch.zeros_like(mask), generator=_gen(5)), x)


def test_mask_shape_checked() -> None:
    x, _ = _shirts(2)
    with pytest.raises(AugmentationError, match="mask"):
        recolor_garment(x, torch.ones(2, 1, 8, 8))
