"""Backdrop replacement: the garment is kept bit for bit, the background becomes a view-specific colour field."""

from __future__ import annotations

import pytest
import torch

from colorvariants.data.augment import (
    AugmentationError,
    ColorVariantViewConfig,
    ColorVariantViews,
    SimCLRViewConfig,
    SimCLRViews,
    random_backdrop,
)


def _scene(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Random images whose central 8x8 square is the garment."""
    x = torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    mask = torch.zeros(n, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1.0
    return x, mask


def test_garment_kept_background_replaced_by_a_smooth_field() -> None:
    x, mask = _scene()
    out = random_backdrop(x, mask, p=1.0, grid=3, generator=torch.Generator().manual_seed(0))
    fg = mask.bool().expand_as(x)
    assert torch.equal(out[fg], x[fg])
    assert not torch.allclose(out[~fg], x[~fg])
    # a field upsampled from a 3x3 grid is smooth: neighbouring background pixels differ little
    assert (out[..., 0, 1:] - out[..., 0, :-1]).abs().max() < 0.2
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_each_image_gets_its_own_backdrop_and_p_selects_a_share() -> None:
    x, mask = _scene(64)
    out = random_backdrop(x, mask, p=1.0, grid=1, generator=torch.Generator().manual_seed(0))
    corners = out[:, :, 0, 0]
    assert torch.unique(corners, dim=0).shape[0] == 64
    kept = random_backdrop(x, mask, p=0.0)
    assert torch.equal(kept, x)
    half = random_backdrop(x, mask, p=0.5, generator=torch.Generator().manual_seed(0))
    changed = (half != x).flatten(1).any(1).float().mean()
    assert 0.25 < float(changed) < 0.75


def test_uint8_masks_and_invalid_arguments() -> None:
    x, mask = _scene(2)
    out = random_backdrop(x, (mask * 255).to(torch.uint8), p=1.0)
    assert torch.equal(out[..., 4:12, 4:12], x[..., 4:12, 4:12])
    with pytest.raises(AugmentationError):
        random_backdrop(x, mask, p=1.5)
    with pytest.raises(AugmentationError):
        random_backdrop(x, mask, p=1.0, grid=0)


@pytest.mark.parametrize("views", [
    ColorVariantViews(ColorVariantViewConfig(input_size=16, backdrop_prob=1.0, recolor_prob=0.0, hue_prob=0.0,
                                             cj_prob=0.0, luminance_prob=0.0, channel_perm_prob=0.0,
                                             gray_prob=0.0, scale_jitter=0.0, shift_jitter=0.0, rotate_deg=0.0,
                                             normalize=False)),
    SimCLRViews(SimCLRViewConfig(input_size=16, backdrop_prob=1.0, min_scale=1.0, hf_prob=0.0, cj_prob=0.0,
                                 random_gray_scale=0.0, gaussian_blur=0.0, normalize=False)),
])
def test_view_recipes_give_the_two_views_different_backgrounds(views: object) -> None:
    x, mask = _scene(4)
    images = (x * 255).round().to(torch.uint8)
    a, b = views(images, masks=(mask * 255).to(torch.uint8), generator=torch.Generator().manual_seed(0))
    inside = (slice(None), slice(None), slice(5, 11), slice(5, 11))
    assert torch.allclose(a[inside], b[inside], atol=1e-6)  # the garment is the same in both views
    assert not torch.allclose(a[..., 0, :], b[..., 0, :])  # the backgrounds are not
