"""Colour augmentations against torchvision's functional ops per image, application rates, determinism."""

from __future__ import annotations

import colorsys
from collections.abc import Callable

import pytest
import torch
import torchvision.transforms.functional as TF

from colorvariants.data.augment import (
    AugmentationError,
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


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _images(n: int = 6, size: int = 12, seed: int = 0) -> torch.Tensor:
    x = torch.rand(n, 3, size, size, generator=_gen(seed))
    x[0] = x[0, :1]  # a gray image: hue/saturation are undefined there
    x[1] = (x[1] * 4).round() / 4  # ties between channels (max shared by two channels)
    return x


def _per_pixel(fn: Callable[[float, float, float], tuple[float, float, float]], im: torch.Tensor) -> torch.Tensor:
    """``fn`` (a ``colorsys`` conversion) applied to every pixel of one (3, H, W) image, in float32."""
    flat = im.double().flatten(1).T.tolist()
    return torch.tensor([fn(*p) for p in flat], dtype=torch.float32).T.reshape(im.shape)


def _per_image(fn: Callable[..., torch.Tensor], x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    return torch.stack([fn(im, float(f)) for im, f in zip(x, factors, strict=True)])


class TestAgainstTorchvision:
    @pytest.mark.parametrize(
        ("ours", "theirs", "low", "high"),
        [
            (adjust_brightness, TF.adjust_brightness, 0.0, 2.0),
            (adjust_contrast, TF.adjust_contrast, 0.0, 2.0),
            (adjust_saturation, TF.adjust_saturation, 0.0, 2.0),
            (adjust_hue, TF.adjust_hue, -0.5, 0.5),
        ],
    )
    def test_per_sample_factors(
        self, ours: Callable[..., torch.Tensor], theirs: Callable[..., torch.Tensor], low: float, high: float
    ) -> None:
        x = _images()
        factors = torch.linspace(low, high, x.shape[0])
        torch.testing.assert_close(ours(x, factors), _per_image(theirs, x, factors), atol=1e-5, rtol=0)

    def test_grayscale(self) -> None:
        x = _images()
        ref = torch.stack([TF.rgb_to_grayscale(im, num_output_channels=1) for im in x])
        torch.testing.assert_close(rgb_to_grayscale(x), ref, atol=1e-6, rtol=0)
        out = random_grayscale(x, 1.0)
        torch.testing.assert_close(out, ref.expand_as(x), atol=1e-6, rtol=0)

    def test_hsv_round_trip_matches_the_standard_library(self) -> None:
        """Against Python's ``colorsys`` per pixel (the same Pillow-derived maths as torchvision's private
        ``_rgb2hsv``/``_hsv2rgb``, which tests must not import)."""
        x = _images()
        for im, hsv in zip(x, rgb_to_hsv(x), strict=True):
            ref = _per_pixel(colorsys.rgb_to_hsv, im)
            diff = (hsv - ref).abs()
            diff[0] = torch.minimum(diff[0], 1 - diff[0])  # hue is circular
            assert diff.max() < 1e-5
            torch.testing.assert_close(hsv_to_rgb(ref[None])[0], _per_pixel(colorsys.hsv_to_rgb, ref),
                                       atol=1e-6, rtol=0)
        torch.testing.assert_close(hsv_to_rgb(rgb_to_hsv(x)), x, atol=1e-5, rtol=0)

    def test_hue_rotate_wraps_the_full_circle(self) -> None:
        x = _images()
        torch.testing.assert_close(hue_rotate(x, 360.0), x, atol=1e-5, rtol=0)
        torch.testing.assert_close(hue_rotate(x, 270.0), adjust_hue(x, -0.25), atol=1e-5, rtol=0)
        red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
        torch.testing.assert_close(hue_rotate(red, 120.0), torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1))

    def test_jitter_with_one_factor_equals_the_op(self) -> None:
        x = _images()
        g = _gen(5)
        out = color_jitter(x, brightness=(1.3, 1.3), contrast=0, saturation=0, hue=0, p=1.0, generator=g)
        torch.testing.assert_close(out, TF.adjust_brightness(x, 1.3), atol=1e-6, rtol=0)
        out = color_jitter(x, brightness=0, contrast=0, saturation=0, hue=(0.2, 0.2), p=1.0, generator=g)
        ref = _per_image(TF.adjust_hue, x, torch.full((6,), 0.2))
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)

    def test_normalize(self) -> None:
        x = _images()
        torch.testing.assert_close(
            normalize(x), TF.normalize(x, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]), atol=1e-6, rtol=1e-6
        )


class TestColorJitter:
    @pytest.mark.parametrize("order", ["sample", "batch"])
    def test_application_rate(self, order: str) -> None:
        x = torch.rand(2000, 3, 2, 2, generator=_gen())
        out = color_jitter(x, 0.8, 0.8, 0.8, 0.2, p=0.8, generator=_gen(1), order=order)
        changed = (out - x).abs().flatten(1).amax(1) > 1e-6
        assert abs(changed.float().mean().item() - 0.8) < 0.03

    def test_factors_differ_per_sample_and_are_seeded(self) -> None:
        x = torch.rand(1, 3, 8, 8, generator=_gen()).expand(32, -1, -1, -1).contiguous()
        a = color_jitter(x, p=1.0, generator=_gen(7))
        b = color_jitter(x, p=1.0, generator=_gen(7))
        c = color_jitter(x, p=1.0, generator=_gen(8))
        assert torch.equal(a, b) and not torch.equal(a, c)
        assert len({round(v, 5) for v in a.mean(dim=(1, 2, 3)).tolist()}) == 32
        assert a.min() >= 0 and a.max() <= 1

    def test_order_is_random_per_sample(self) -> None:
        # Brightness then contrast differs from contrast then brightness when clamping kicks in, so with the
        # same factors for every image, per-image orders give (at least) two different results.
        x = torch.rand(1, 3, 8, 8, generator=_gen()).expand(64, -1, -1, -1).contiguous()
        out = color_jitter(x, (1.9, 1.9), (0.2, 0.2), 0, 0, p=1.0, generator=_gen(1), order="sample")
        assert len({round(v, 5) for v in out.mean(dim=(1, 2, 3)).tolist()}) == 2
        out = color_jitter(x, (1.9, 1.9), (0.2, 0.2), 0, 0, p=1.0, generator=_gen(1), order="batch")
        assert len({round(v, 5) for v in out.mean(dim=(1, 2, 3)).tolist()}) == 1

    def test_input_not_modified(self) -> None:
        x = torch.rand(8, 3, 4, 4, generator=_gen())
        before = x.clone()
        color_jitter(x, p=0.5, generator=_gen(1))
        assert torch.equal(x, before)

    @pytest.mark.parametrize("kwargs", [{"brightness": -0.1}, {"hue": 0.7}, {"p": 1.5}, {"order": "random"}])
    def test_invalid_parameters_raise(self, kwargs: dict[str, object]) -> None:
        with pytest.raises(AugmentationError):
            color_jitter(torch.rand(2, 3, 4, 4), **kwargs)  # type: ignore[arg-type]

    def test_rejects_uint8(self) -> None:
        with pytest.raises(AugmentationError, match="float"):
            color_jitter(torch.zeros(2, 3, 4, 4, dtype=torch.uint8))


class TestRandomOps:
    def test_grayscale_rate(self) -> None:
        x = torch.rand(2000, 3, 2, 2, generator=_gen())
        out = random_grayscale(x, 0.2, generator=_gen(1))
        gray = (out[:, 0] == out[:, 1]).flatten(1).all(1) & (out[:, 1] == out[:, 2]).flatten(1).all(1)
        assert abs(gray.float().mean().item() - 0.2) < 0.03

    def test_channel_permutation(self) -> None:
        x = torch.rand(1000, 3, 2, 2, generator=_gen())
        out = random_channel_permutation(x, 0.5, generator=_gen(1))
        changed = ~(out == x).flatten(1).all(1)
        assert abs(changed.float().mean().item() - 0.5) < 0.05
        # every output is a permutation of its input's channels
        torch.testing.assert_close(out.sort(dim=1).values, x.sort(dim=1).values)

    def test_hue_rotate_rate_and_range(self) -> None:
        x = torch.tensor([0.9, 0.2, 0.1]).view(1, 3, 1, 1).expand(3000, -1, -1, -1).contiguous()
        out = random_hue_rotate(x, 0.7, 180.0, generator=_gen(1))
        changed = (out - x).abs().flatten(1).amax(1) > 1e-4
        assert abs(changed.float().mean().item() - 0.7) < 0.03
        hue = rgb_to_hsv(out)[:, 0].flatten()
        assert (hue < 0.5).any() and (hue > 0.5).any()  # both halves of the circle are reached


class TestLuminance:
    def test_dark_becomes_light_and_light_becomes_dark(self) -> None:
        navy = torch.tensor([0.05, 0.06, 0.2]).view(1, 3, 1, 1)
        light = adjust_luminance(navy, torch.tensor([1.0]), invert=torch.tensor([True]))
        assert rgb_to_grayscale(light).item() > 0.8
        assert light[0, 2, 0, 0] > light[0, 0, 0, 0]  # still bluish: chroma kept
        lightened = adjust_luminance(navy, 0.25)
        assert rgb_to_grayscale(lightened).item() > 0.45
        white = torch.full((1, 3, 1, 1), 0.9)
        assert rgb_to_grayscale(adjust_luminance(white, 4.0)).item() < 0.7

    def test_structure_is_kept(self) -> None:
        # A monotone luma curve keeps the order of pixel lightness (edges and patterns survive).
        ramp = torch.linspace(0.05, 0.95, 16).view(1, 1, 1, 16).expand(1, 3, 4, 16).contiguous()
        for gamma in (0.3, 3.0):
            y = rgb_to_grayscale(adjust_luminance(ramp, gamma))[0, 0, 0]
            assert torch.all(y[1:] > y[:-1])
        y = rgb_to_grayscale(adjust_luminance(ramp, 1.0, invert=True))[0, 0, 0]
        assert torch.all(y[1:] < y[:-1])

    def test_random_remap_rate_and_determinism(self) -> None:
        x = torch.rand(1000, 3, 2, 2, generator=_gen())
        a = random_luminance_remap(x, 0.5, generator=_gen(3))
        assert torch.equal(a, random_luminance_remap(x, 0.5, generator=_gen(3)))
        changed = (a - x).abs().flatten(1).amax(1) > 1e-5
        assert abs(changed.float().mean().item() - 0.5) < 0.05
        assert a.min() >= 0 and a.max() <= 1
