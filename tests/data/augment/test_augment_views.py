"""View recipes: lightly's defaults, output contract, determinism, statistics close to lightly's pipeline."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lightly.transforms import MoCoV2Transform, SimCLRTransform
from PIL import Image

from colorvariants.data.augment import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentationError,
    ColorVariantViewConfig,
    ColorVariantViews,
    EvalView,
    MoCoV2ViewConfig,
    MoCoV2Views,
    SimCLRViewConfig,
    SimCLRViews,
    normalize,
)

MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _images(n: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    """Smooth colourful uint8 images (coarse random colours upsampled): structure for crops and blur."""
    base = torch.rand(n, 3, 4, 4, generator=_gen(seed))
    x = F.interpolate(base, size=size, mode="bilinear", align_corners=False)
    return (x * 255).round().to(torch.uint8)


def _denorm(x: torch.Tensor) -> torch.Tensor:
    return x * STD + MEAN


@pytest.mark.parametrize(("config", "transform"), [(SimCLRViewConfig, SimCLRTransform),
                                                   (MoCoV2ViewConfig, MoCoV2Transform)])
def test_defaults_are_lightlys(config: type, transform: type) -> None:
    params = inspect.signature(transform.__init__).parameters
    ours = {f.name: f.default for f in dataclasses.fields(config)}
    shared = set(ours) & set(params)
    assert {"cj_prob", "cj_strength", "cj_bright", "cj_contrast", "cj_sat", "cj_hue", "min_scale",
            "random_gray_scale", "gaussian_blur", "sigmas", "hf_prob", "vf_prob"} <= shared
    for name in shared - {"input_size", "normalize"}:
        assert ours[name] == pytest.approx(params[name].default), name
    assert list(ours["mean"]) == params["normalize"].default["mean"]
    assert list(ours["std"]) == params["normalize"].default["std"]


class TestSimCLRViews:
    def test_contract(self) -> None:
        images = _images(8)
        a, b = SimCLRViews()(images, generator=_gen(1))
        assert a.shape == b.shape == (8, 3, 16, 16) and a.dtype == torch.float32
        assert not torch.allclose(a, b)  # two different views
        lo, hi = normalize(torch.zeros(1, 3, 1, 1)), normalize(torch.ones(1, 3, 1, 1))
        assert torch.all(a >= lo - 1e-5) and torch.all(a <= hi + 1e-5)
        a2, b2 = SimCLRViews()(images, generator=_gen(1))
        assert torch.equal(a, a2) and torch.equal(b, b2)
        a3, _ = SimCLRViews(SimCLRViewConfig(input_size=8))(images)
        assert a3.shape == (8, 3, 8, 8)

    def test_per_image_parameters(self) -> None:
        images = _images(1).expand(32, -1, -1, -1).contiguous()
        a, _ = SimCLRViews()(images, generator=_gen(2))
        assert len({round(v, 4) for v in a.mean(dim=(1, 2, 3)).tolist()}) == 32

    def test_statistics_match_lightly(self) -> None:
        """Same recipe as lightly's PIL ``SimCLRTransform``: view statistics agree over 400 images."""
        n = 400
        images = _images(n, size=32, seed=3)
        torch.manual_seed(0)
        np.random.seed(0)
        transform = SimCLRTransform(input_size=32)
        pils = [Image.fromarray(im.permute(1, 2, 0).numpy()) for im in images]
        ref = torch.stack([v for im in pils for v in transform(im)])
        a, b = SimCLRViews()(images, generator=_gen(4))
        ours = torch.cat([a, b])

        def stats(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
            means = v.mean(dim=(2, 3))
            spread = v.std(dim=(2, 3)).mean(1).quantile(torch.tensor([0.1, 0.5, 0.9]))
            raw = _denorm(v)
            gray = ((raw[:, 0] - raw[:, 1]).abs().amax((1, 2)) < 2e-2).float().mean().item()
            return means.mean(0), means.std(0), spread, gray

        (m1, s1, q1, g1), (m2, s2, q2, g2) = stats(ours), stats(ref)
        assert torch.allclose(m1, m2, atol=0.12), (m1, m2)
        assert torch.allclose(s1, s2, atol=0.12), (s1, s2)
        assert torch.allclose(q1, q2, atol=0.15), (q1, q2)
        assert abs(g1 - g2) < 0.06 and abs(g1 - 0.2) < 0.05

    def test_mocov2_defaults_and_views(self) -> None:
        views = MoCoV2Views()
        assert views.config.cj_hue == 0.1 and views.config.min_scale == 0.2
        q, k = views(_images(4), generator=_gen(1))
        assert q.shape == k.shape == (4, 3, 16, 16)

    def test_recolor_option_uses_masks(self) -> None:
        images = _images(4)
        masks = torch.zeros(4, 1, 16, 16, dtype=torch.uint8)
        masks[..., 4:12, 4:12] = 255
        cfg = SimCLRViewConfig(recolor_prob=1.0)
        a, _ = SimCLRViews(cfg)(images, masks=masks, generator=_gen(1))
        b, _ = SimCLRViews(cfg)(images, generator=_gen(1))
        assert not torch.allclose(a, b)

    def test_invalid_config(self) -> None:
        with pytest.raises(AugmentationError):
            SimCLRViews(SimCLRViewConfig(cj_prob=1.2))
        with pytest.raises(AugmentationError):
            SimCLRViews(SimCLRViewConfig(jitter_order="sometimes"))
        with pytest.raises(AugmentationError):
            SimCLRViews(SimCLRViewConfig(cpu_threads=0))

    def test_cpu_threads_restored_and_results_independent_of_threads(self) -> None:
        before = torch.get_num_threads()
        images = _images(4)
        a, _ = SimCLRViews(SimCLRViewConfig(cpu_threads=1))(images, generator=_gen(1))
        assert torch.get_num_threads() == before
        b, _ = SimCLRViews(SimCLRViewConfig(cpu_threads=None))(images, generator=_gen(1))
        torch.testing.assert_close(a, b)


def _colour_off(**overrides: object) -> ColorVariantViewConfig:
    off = dict(hue_prob=0.0, cj_prob=0.0, luminance_prob=0.0, channel_perm_prob=0.0, gray_prob=0.0,
               recolor_prob=0.0)
    off.update(overrides)
    return ColorVariantViewConfig(**off)  # type: ignore[arg-type]


class TestColorVariantViews:
    def test_contract_and_determinism(self) -> None:
        images = _images(6)
        a, b = ColorVariantViews()(images, generator=_gen(1))
        assert a.shape == b.shape == (6, 3, 16, 16)
        a2, _ = ColorVariantViews()(images, generator=_gen(1))
        assert torch.equal(a, a2) and not torch.allclose(a, b)

    def test_geometry_is_mild(self) -> None:
        images = _images(16)
        a, b = ColorVariantViews(_colour_off())(images, generator=_gen(1))
        x = images.float() / 255
        assert (_denorm(a) - x).abs().mean() < 0.08
        crops_only = SimCLRViewConfig(cj_prob=0, random_gray_scale=0, gaussian_blur=0)
        crops, _ = SimCLRViews(crops_only)(images, None, _gen(1))
        assert (_denorm(crops) - x).abs().mean() > (_denorm(a) - x).abs().mean()

    def test_colour_is_strong(self) -> None:
        red = torch.zeros(400, 3, 4, 4, dtype=torch.uint8)
        red[:, 0] = 200
        red[:, 1:] = 30
        a, _ = ColorVariantViews(ColorVariantViewConfig(gray_prob=0.0))(red, generator=_gen(2))
        rgb = _denorm(a).mean(dim=(2, 3))
        dominant = rgb.argmax(dim=1).bincount(minlength=3).float() / 400
        assert torch.all(dominant > 0.15)  # red garments turned green and blue as often as not

    def test_masks_recolour_only_the_garment(self) -> None:
        images = torch.full((8, 3, 16, 16), 255, dtype=torch.uint8)
        images[:, 0, 4:12, 4:12], images[:, 1:, 4:12, 4:12] = 180, 20
        masks = torch.zeros(8, 1, 16, 16, dtype=torch.uint8)
        masks[..., 4:12, 4:12] = 255
        cfg = _colour_off(scale_jitter=0.0, shift_jitter=0.0, rotate_deg=0.0, recolor_prob=1.0, backdrop_prob=0.0)
        a, b = ColorVariantViews(cfg)(images, masks=masks, generator=_gen(3))
        for view in (a, b):
            raw = _denorm(view)
            torch.testing.assert_close(raw[..., :4, :], torch.ones_like(raw[..., :4, :]), atol=1e-5, rtol=0)
            assert (raw[..., 4:12, 4:12] - images[..., 4:12, 4:12].float() / 255).abs().mean() > 0.05

    def test_output_size(self) -> None:
        views = ColorVariantViews(ColorVariantViewConfig(input_size=8))
        a, _ = views(_images(2), masks=torch.zeros(2, 1, 16, 16))
        assert a.shape == (2, 3, 8, 8)


def test_eval_view_is_deterministic_resize_and_normalise() -> None:
    images = _images(3, size=32)
    out = EvalView(16)(images)
    ref = normalize(F.interpolate(images.float() / 255, size=(16, 16), mode="bilinear", antialias=True,
                                  align_corners=False))
    torch.testing.assert_close(out, ref)
    assert torch.equal(EvalView(16)(images), out)
    assert EvalView()(images).shape == (3, 3, 32, 32)
