"""Tests for colorvariants.data.boxes: clip, the one crop margin rule, scale, a mask's box, letterbox."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from colorvariants.data.boxes import (
    CROP_MARGIN,
    clip_box,
    grow_box,
    letterbox,
    letterbox_mask,
    mask_bbox,
    outer_pixels,
    scale_box,
)


class TestClip:
    def test_rounds_outwards_and_clips(self) -> None:
        assert clip_box((1.2, 2.7, 9.1, 9.9), (20, 20)) == (1, 2, 10, 10)
        assert clip_box((-5, -5, 50, 50), (20, 10)) == (0, 0, 20, 10)

    @pytest.mark.parametrize("box", [(30, 0, 40, 5), (5, 5, 5, 9), (8, 0, 2, 5), (0, 0, math.nan, 5),
                                     (0, 0, math.inf, 5)])
    def test_nothing_left_is_none(self, box: tuple[float, float, float, float]) -> None:
        assert clip_box(box, (20, 20)) is None


class TestGrow:
    def test_margin_is_a_share_of_each_side(self) -> None:
        assert CROP_MARGIN == 0.05
        assert grow_box((10, 20, 30, 60)) == (9.0, 18.0, 31.0, 62.0)
        assert grow_box((10, 20, 30, 60), 0.1) == (8.0, 16.0, 32.0, 64.0)
        assert grow_box((10, 20, 30, 60), 0.0) == (10.0, 20.0, 30.0, 60.0)

    @pytest.mark.parametrize("box", [(30, 0, 10, 5), (5, 5, 5, 9), (0, 0, math.nan, 5)])
    def test_a_box_that_frames_nothing_is_none(self, box: tuple[float, float, float, float]) -> None:
        assert grow_box(box) is None

    def test_mask_box_with_margin(self) -> None:
        m = np.zeros((100, 100), dtype=np.uint8)
        assert mask_bbox(m) is None
        m[20:60, 30:50] = 255
        grown = grow_box(mask_bbox(m) or (0, 0, 0, 0))
        assert grown is not None
        x0, y0, x1, y1 = grown
        assert x0 < 30 and y0 < 20 and x1 > 50 and y1 > 60 and x1 - x0 < 30


def test_scale_and_outer_pixels() -> None:
    assert scale_box((10, 20, 30, 40), 0.5, 0.25) == (5.0, 5.0, 15.0, 10.0)
    assert outer_pixels((1.5, 2.2, 3.1, 4.0)) == (1, 2, 4, 4)
    assert outer_pixels((1.5, 2.2, 1.6, 2.3)) == (1, 2, 2, 3)  # at least one pixel each way


def test_mask_bbox_is_tight_and_exclusive() -> None:
    m = np.zeros((40, 30), np.uint8)
    m[8:30, 5:20] = 255
    assert mask_bbox(m) == (5, 8, 20, 30)


def test_letterbox_keeps_aspect_on_white() -> None:
    arr, place = letterbox(Image.new("RGB", (40, 20), (0, 0, 0)), 16)
    assert arr.shape == (16, 16, 3) and (place.width, place.height, place.left, place.top) == (16, 8, 0, 4)
    assert (arr[:4] == 255).all() and (arr[4:12] == 0).all()
    mask = np.full((20, 40), 255, np.uint8)
    out = letterbox_mask(mask, (0, 0, 40, 20), place, 16)
    assert (out[:4] == 0).all() and (out[4:12] == 255).all() and (out[12:] == 0).all()
