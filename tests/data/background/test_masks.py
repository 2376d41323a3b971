"""Mask files and the mask cache: round trips, alignment checks, compute-once, and the geometry helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorvariants.data.background.masks import (
    MaskCache,
    clean_mask,
    largest_component,
    mask_iou,
    read_mask,
    write_mask,
)
from colorvariants.data.boxes import mask_bbox
from colorvariants.errors import ImageLoadError


def _box_mask(h: int = 40, w: int = 30, box: tuple[int, int, int, int] = (5, 8, 20, 30)) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[box[1] : box[3], box[0] : box[2]] = 255
    return m


def test_write_read_round_trip_leaves_no_temp_files(tmp_path: Path) -> None:
    mask = _box_mask()
    write_mask(tmp_path / "a" / "m.png", mask)
    assert np.array_equal(read_mask(tmp_path / "a" / "m.png"), mask)
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["m.png"]
    with Image.open(tmp_path / "a" / "m.png") as im:
        assert im.mode == "L"


def test_read_mask_scales_same_shape_and_rejects_another(tmp_path: Path) -> None:
    write_mask(tmp_path / "half.png", _box_mask(20, 15, (2, 4, 10, 15)))
    assert read_mask(tmp_path / "half.png", size=(30, 40)).shape == (40, 30)
    with pytest.raises(ImageLoadError, match="another shape") as info:
        read_mask(tmp_path / "half.png", size=(40, 40), row=7)
    assert "row 7" in str(info.value)


def test_read_mask_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="nope.png"):
        read_mask(tmp_path / "nope.png")


def test_cache_computes_once(tmp_path: Path) -> None:
    cache = MaskCache(tmp_path / "masks")
    calls: list[int] = []

    def compute() -> np.ndarray:
        calls.append(1)
        return _box_mask()

    first = cache.get_or_compute("img/x/01_1_front", compute)
    second = cache.get_or_compute("img/x/01_1_front", compute)
    assert len(calls) == 1 and np.array_equal(first, second)
    assert cache.path_for("img/x/01_1_front") == tmp_path / "masks" / "img" / "x" / "01_1_front.png"


def test_bbox_and_iou() -> None:
    mask = _box_mask(box=(5, 8, 20, 30))
    assert mask_bbox(mask) == (5, 8, 20, 30)  # x1, y1 exclusive, as PIL's crop takes them
    assert mask_bbox(np.zeros((4, 4), np.uint8)) is None
    other = _box_mask(box=(5, 8, 20, 19))
    assert mask_iou(mask, other) == pytest.approx(11 / 22)


def test_cleanup_keeps_largest_part_and_real_holes() -> None:
    mask = _box_mask(80, 80, (10, 10, 60, 60))
    mask[30:35, 30:35] = 0  # a hole
    mask[70:72, 70:72] = 255  # a speck
    assert largest_component(mask)[71, 71] == 0
    mask[45:47, 45:47] = 0  # a pinhole, smaller than the clean-up kernel
    cleaned = clean_mask(mask)
    assert cleaned[71, 71] == 0 and cleaned[45, 45] == 255 and cleaned[12, 12] == 255
    assert cleaned[32, 32] == 0  # clean-up does not invent garment over a real hole
