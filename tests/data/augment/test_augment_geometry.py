"""Geometry augmentations against torchvision's functional ops, plus per-sample randomness and determinism."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from torchvision.transforms import RandomResizedCrop

from colorvariants.data.augment import (
    AugmentationError,
    hflip,
    random_affine_jitter,
    random_hflip,
    random_resized_crop,
    resize,
    resized_crop,
    sample_resized_crop_boxes,
)
from colorvariants.data.augment.geometry import affine_grid


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class TestResizedCrop:
    @pytest.mark.parametrize("box", [(0, 0, 16, 16), (3, 5, 7, 9), (10, 2, 5, 14), (0, 8, 16, 8)])
    @pytest.mark.parametrize("size", [8, 12, 24])
    def test_matches_torchvision_resized_crop(self, box: tuple[int, int, int, int], size: int) -> None:
        x = torch.rand(3, 3, 16, 16, generator=_gen())
        boxes = torch.tensor([box] * 3, dtype=torch.float32)
        ours = resized_crop(x, boxes, size)
        ref = torch.stack([TF.resized_crop(im, *box, [size, size], antialias=False) for im in x])
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)

    def test_flip_folded_into_the_crop(self) -> None:
        x = torch.rand(2, 3, 16, 16, generator=_gen())
        boxes = torch.tensor([[2, 3, 10, 12], [0, 0, 16, 16]], dtype=torch.float32)
        flip = torch.tensor([True, False])
        ours = resized_crop(x, boxes, 16, hflip=flip)
        ref0 = TF.hflip(TF.resized_crop(x[0], 2, 3, 10, 12, [16, 16], antialias=False))
        torch.testing.assert_close(ours[0], ref0, atol=1e-5, rtol=0)
        torch.testing.assert_close(ours[1], x[1], atol=1e-5, rtol=0)

    def test_boxes_follow_torchvision_distribution(self) -> None:
        boxes = sample_resized_crop_boxes(4000, 64, 48, generator=_gen())
        top, left, h, w = boxes.unbind(1)
        assert torch.all((h >= 1) & (w >= 1) & (top >= 0) & (left >= 0))
        assert torch.all((top + h <= 64) & (left + w <= 48))
        assert torch.equal(boxes, boxes.round())  # whole pixels, as torchvision's get_params
        area = (h * w) / (64 * 48)
        # Same distribution as torchvision's get_params: compare area quantiles on the same image size.
        torch.manual_seed(0)
        img = torch.zeros(3, 64, 48)
        draws = [RandomResizedCrop.get_params(img, [0.08, 1.0], [3 / 4, 4 / 3])[2:] for _ in range(4000)]
        ref = torch.tensor(draws, dtype=torch.float32)
        ref_area = ref[:, 0] * ref[:, 1] / (64 * 48)
        q = torch.tensor([0.1, 0.5, 0.9])
        assert torch.allclose(area.quantile(q), ref_area.quantile(q), atol=0.04)
        aspect = (w / h).log()
        assert aspect.min() > math.log(3 / 4) - 0.1 and aspect.max() < math.log(4 / 3) + 0.1

    def test_fallback_is_a_centre_crop(self) -> None:
        # A 1x10 strip cannot hold any box with aspect ratio in [3/4, 4/3] and area >= 50%: centre fallback.
        boxes = sample_resized_crop_boxes(5, 1, 10, scale=(0.5, 1.0), generator=_gen())
        assert torch.equal(boxes, torch.tensor([[0.0, 4.0, 1.0, 1.0]] * 5))

    def test_shape_range_determinism_and_per_sample_params(self) -> None:
        x = torch.rand(1, 3, 32, 32, generator=_gen()).expand(16, -1, -1, -1).contiguous()
        a = random_resized_crop(x, 24, generator=_gen(3))
        b = random_resized_crop(x, 24, generator=_gen(3))
        assert a.shape == (16, 3, 24, 24) and a.dtype == torch.float32
        assert a.min() >= 0 and a.max() <= 1
        assert torch.equal(a, b)
        distinct = {tuple(v.tolist()) for v in a.flatten(1)[:, :8].round(decimals=4)}
        assert len(distinct) > 12  # the same image, cropped differently per sample

    def test_invalid_scale_raises(self) -> None:
        with pytest.raises(AugmentationError):
            sample_resized_crop_boxes(2, 8, 8, scale=(0.5, 0.1))


class TestFlips:
    def test_random_hflip_rate_and_exactness(self) -> None:
        x = torch.rand(2000, 3, 2, 4, generator=_gen())
        out = random_hflip(x, 0.3, generator=_gen(1))
        flipped = (out == TF.hflip(x)).flatten(1).all(1)
        kept = (out == x).flatten(1).all(1)
        assert torch.all(flipped | kept)
        assert abs(flipped.float().mean().item() - 0.3) < 0.04

    def test_hflip_selects_images(self) -> None:
        x = torch.rand(2, 3, 4, 4, generator=_gen())
        out = hflip(x, torch.tensor([True, False]))
        assert torch.equal(out[0], x[0].flip(-1)) and torch.equal(out[1], x[1])


class TestAffineJitter:
    def test_zero_jitter_is_identity(self) -> None:
        x = torch.rand(4, 3, 16, 16, generator=_gen())
        torch.testing.assert_close(random_affine_jitter(x, 0.0, 0.0, 0.0), x, atol=1e-5, rtol=0)

    def test_shift_moves_content_and_replicates_border(self) -> None:
        # A uniform 0.7 background with a dark block: a shift moves the block, and what comes in from outside
        # the image replicates the border (0.7), neither black (zero padding) nor white.
        x = torch.full((4, 3, 16, 16), 0.7)
        x[..., 6:10, 6:10] = 0.2
        out = random_affine_jitter(x, 0.0, 0.25, 0.0, generator=_gen(0))
        assert out.shape == x.shape
        assert not torch.allclose(out, x)
        assert out.min() >= 0.2 - 1e-6 and out.max() <= 0.7 + 1e-6
        assert torch.allclose(out[..., 0, 0], torch.tensor(0.7))

    def test_mild_parameters_stay_mild_and_differ_per_sample(self) -> None:
        x = torch.rand(1, 3, 32, 32, generator=_gen()).expand(8, -1, -1, -1).contiguous()
        out = random_affine_jitter(x, 0.05, 0.02, 3.0, generator=_gen(2))
        assert (out - x).abs().mean() < 0.35
        assert not torch.allclose(out[0], out[1])

    def test_affine_grid_matches_torch(self) -> None:
        theta = torch.randn(3, 2, 3, generator=_gen())
        ref = F.affine_grid(theta, [3, 1, 5, 7], align_corners=False)
        torch.testing.assert_close(affine_grid(theta, 5, 7), ref, atol=1e-6, rtol=0)

    def test_output_size(self) -> None:
        out = random_affine_jitter(torch.rand(2, 4, 16, 16), 0.1, 0.1, 10.0, size=8, generator=_gen())
        assert out.shape == (2, 4, 8, 8)


def test_resize_matches_interpolate() -> None:
    x = torch.rand(2, 3, 20, 20, generator=_gen())
    ref = F.interpolate(x, size=(10, 10), mode="bilinear", align_corners=False, antialias=True)
    torch.testing.assert_close(resize(x, 10), ref)
    assert resize(x, 20) is x
