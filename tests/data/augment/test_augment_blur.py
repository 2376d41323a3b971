"""Gaussian blur: torchvision's kernel per image away from the borders, per-sample sigma, application rate."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.functional as TF

from colorvariants.data.augment import AugmentationError, blur_with_sigma, gaussian_blur


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.0])
def test_matches_torchvision_inside(sigma: float) -> None:
    x = torch.rand(2, 3, 24, 24, generator=_gen())
    radius = 6
    ours = blur_with_sigma(x, sigma, radius)
    ref = TF.gaussian_blur(x, [2 * radius + 1] * 2, [sigma, sigma])
    inner = (slice(None), slice(None), slice(radius, -radius), slice(radius, -radius))
    torch.testing.assert_close(ours[inner], ref[inner], atol=1e-5, rtol=0)


def test_sigma_per_sample() -> None:
    x = torch.rand(1, 3, 16, 16, generator=_gen()).expand(2, -1, -1, -1).contiguous()
    out = blur_with_sigma(x, torch.tensor([0.5, 2.0]), 6)
    torch.testing.assert_close(out[0], blur_with_sigma(x[:1], 0.5, 6)[0])
    torch.testing.assert_close(out[1], blur_with_sigma(x[:1], 2.0, 6)[0])
    assert out[1].std() < out[0].std() < x[0].std()  # more blur, less variance


def test_constant_image_is_unchanged_and_mean_preserved() -> None:
    x = torch.full((2, 3, 8, 8), 0.3)
    torch.testing.assert_close(blur_with_sigma(x, 2.0), x)


def test_rate_determinism_and_shape() -> None:
    x = torch.rand(1000, 3, 4, 4, generator=_gen())
    a = gaussian_blur(x, 0.5, generator=_gen(1))
    assert a.shape == x.shape
    assert torch.equal(a, gaussian_blur(x, 0.5, generator=_gen(1)))
    changed = (a - x).abs().flatten(1).amax(1) > 1e-6
    assert abs(changed.float().mean().item() - 0.5) < 0.05


def test_invalid_sigmas() -> None:
    with pytest.raises(AugmentationError):
        gaussian_blur(torch.rand(2, 3, 4, 4), sigmas=(0.0, 1.0))
