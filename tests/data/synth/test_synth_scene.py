"""Photographs: per-image nuisance, a mask that matches the pixels, a product kept inside the frame."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from colorvariants.data.synth import SynthConfig, colourize, photograph, render_design, sample_design
from colorvariants.data.synth.palette import Colourway

SIZE = 64


def _product() -> tuple[np.ndarray, np.ndarray]:
    design = sample_design(np.random.default_rng(31), "tops")
    return colourize(render_design(design, SIZE), Colourway("red", "white", "navy"))


class TestPhotograph:
    def test_without_nuisance_the_product_sits_on_studio_white(self) -> None:
        rgb, alpha = _product()
        photo = photograph(rgb, alpha, np.random.default_rng(0), SynthConfig(size=SIZE, nuisance=False))
        assert (photo.image[alpha == 0] == 245).all()
        assert np.array_equal(photo.mask, alpha >= 0.5)
        assert photo.quality == 95

    def test_each_image_gets_its_own_pose_and_scene(self) -> None:
        rgb, alpha = _product()
        config = SynthConfig(size=SIZE)
        a = photograph(rgb, alpha, np.random.default_rng(1), config)
        b = photograph(rgb, alpha, np.random.default_rng(2), config)
        assert not np.array_equal(a.mask, b.mask), "pose differs"
        background = ~(a.mask | b.mask)
        assert np.abs(a.image.astype(int) - b.image.astype(int))[background].mean() > 3, "background differs"

    def test_same_generator_same_bytes(self) -> None:
        rgb, alpha = _product()
        config = SynthConfig(size=SIZE)
        a = photograph(rgb, alpha, np.random.default_rng(3), config)
        b = photograph(rgb, alpha, np.random.default_rng(3), config)
        assert a.jpeg() == b.jpeg() and a.mask_png() == b.mask_png()

    def test_product_stays_in_frame_under_strong_pose(self) -> None:
        rgb, alpha = _product()
        config = SynthConfig(size=SIZE, shift=0.25, scale=(1.0, 1.15), rotation_deg=20)
        for seed in range(30):
            mask = photograph(rgb, alpha, np.random.default_rng(seed), config).mask
            assert mask.any()
            assert not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())

    def test_bbox_is_tight_and_end_exclusive(self) -> None:
        rgb, alpha = _product()
        photo = photograph(rgb, alpha, np.random.default_rng(4), SynthConfig(size=SIZE))
        x0, y0, x1, y1 = photo.bbox()
        inside = np.zeros_like(photo.mask)
        inside[y0:y1, x0:x1] = True
        assert not (photo.mask & ~inside).any()
        m = photo.mask
        assert m[y0].any() and m[y1 - 1].any() and m[:, x0].any() and m[:, x1 - 1].any(), "the box is tight"

    def test_encodings(self) -> None:
        rgb, alpha = _product()
        photo = photograph(rgb, alpha, np.random.default_rng(5), SynthConfig(size=SIZE))
        jpeg = Image.open(io.BytesIO(photo.jpeg()))
        assert jpeg.format == "JPEG" and jpeg.size == (SIZE, SIZE) and jpeg.mode == "RGB"
        mask = np.asarray(Image.open(io.BytesIO(photo.mask_png())))
        assert set(np.unique(mask)) <= {0, 255} and np.array_equal(mask == 255, photo.mask)
