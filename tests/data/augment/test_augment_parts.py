"""Fixed part layouts: documented boxes, overlap, and pixel-exact crops."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from colorvariants.data.augment import (
    PART_LAYOUTS,
    AugmentationError,
    PartBox,
    crop_parts,
    distinct_parts,
    part_boxes,
    pool_parts,
)


def test_halves_are_as_documented() -> None:
    assert part_boxes() == [
        PartBox("whole", 0.0, 0.0, 1.0, 1.0),
        PartBox("top", 0.0, 0.0, 1.0, 0.5),
        PartBox("bottom", 0.0, 0.5, 1.0, 1.0),
        PartBox("left", 0.0, 0.0, 0.5, 1.0),
        PartBox("right", 0.5, 0.0, 1.0, 1.0),
    ]


def test_layouts_registered() -> None:
    assert {"halves", "grid2x2", "bands3"} <= set(PART_LAYOUTS)
    assert [b.name for b in part_boxes("grid2x2")] == ["whole", "top_left", "top_right", "bottom_left",
                                                        "bottom_right"]
    assert [b.name for b in part_boxes("bands3")] == ["whole", "top", "middle", "bottom"]


def test_overlap_moves_interior_edges_only() -> None:
    boxes = {b.name: b for b in part_boxes("halves", overlap=0.25)}
    assert boxes["whole"] == PartBox("whole", 0.0, 0.0, 1.0, 1.0)
    assert boxes["top"] == PartBox("top", 0.0, 0.0, 1.0, 0.625)
    assert boxes["bottom"] == PartBox("bottom", 0.0, 0.375, 1.0, 1.0)
    middle = {b.name: b for b in part_boxes("bands3", overlap=0.5)}["middle"]
    assert middle.y0 == pytest.approx(1 / 3 - 1 / 6) and middle.y1 == pytest.approx(2 / 3 + 1 / 6)


@pytest.mark.parametrize(("layout", "overlap"), [("nope", 0.0), ("halves", 1.0), ("halves", -0.1)])
def test_invalid_layout_or_overlap(layout: str, overlap: float) -> None:
    with pytest.raises(AugmentationError, match="halves" if layout == "nope" else "overlap"):
        part_boxes(layout, overlap)


def test_crop_parts_gives_the_right_pixels() -> None:
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    quads = crop_parts(x, part_boxes("grid2x2"), 4)
    assert quads.shape == (5, 2, 3, 4, 4)
    torch.testing.assert_close(quads[1], x[..., :4, :4], atol=1e-3, rtol=0)
    torch.testing.assert_close(quads[2], x[..., :4, 4:], atol=1e-3, rtol=0)
    torch.testing.assert_close(quads[3], x[..., 4:, :4], atol=1e-3, rtol=0)
    torch.testing.assert_close(quads[4], x[..., 4:, 4:], atol=1e-3, rtol=0)
    halves = crop_parts(x, part_boxes("halves"), 8)
    torch.testing.assert_close(halves[0], x, atol=1e-3, rtol=0)
    # a half stretched to a square equals torchvision's crop-then-resize of that half (no bleeding past it)
    ref_top = F.interpolate(x[..., :4, :], size=(8, 8), mode="bilinear", align_corners=False)
    torch.testing.assert_close(halves[1], ref_top, atol=1e-3, rtol=0)
    ref_right = F.interpolate(x[..., :, 4:], size=(8, 8), mode="bilinear", align_corners=False)
    torch.testing.assert_close(halves[4], ref_right, atol=1e-3, rtol=0)


def test_crop_parts_row_profile() -> None:
    # pixel value = row index: the bottom half of an 8-row image holds rows 4..7, shrunk to 4 columns
    x = torch.arange(8, dtype=torch.float32).view(1, 1, 8, 1).expand(1, 3, 8, 8).contiguous()
    bottom = crop_parts(x, [PartBox("bottom", 0.0, 0.5, 1.0, 1.0)], 4)[0]
    expected = torch.arange(4.0, 8.0).view(1, 1, 4, 1).expand(1, 3, 4, 4)
    torch.testing.assert_close(bottom, expected, atol=1e-3, rtol=0)


def test_pool_parts_is_the_mean_of_each_parts_cells() -> None:
    fmap = torch.rand(3, 6, 4, 4)
    pooled = dict(zip([b.name for b in part_boxes("halves")], pool_parts(fmap, part_boxes("halves")), strict=True))
    assert torch.allclose(pooled["whole"], fmap.mean((2, 3)), atol=1e-6)  # = global average pooling
    assert torch.allclose(pooled["top"], fmap[:, :, :2].mean((2, 3)), atol=1e-6)
    assert torch.allclose(pooled["right"], fmap[:, :, :, 2:].mean((2, 3)), atol=1e-6)


def test_pool_parts_weighs_a_cut_cell_by_its_area() -> None:
    fmap = torch.tensor([[[[1.0], [4.0]]]])  # (1, 1, 2, 1): top cell 1, bottom cell 4
    top_band = pool_parts(fmap, [PartBox("top", 0.0, 0.0, 1.0, 2.0 / 3.0)])  # all of cell 0, a third of cell 1
    assert float(top_band) == pytest.approx((1.0 * 1.0 + 4.0 / 3.0) / (4.0 / 3.0))


def test_distinct_parts_counts_parts_a_coarse_map_cannot_tell_apart() -> None:
    assert distinct_parts(part_boxes("halves"), 2, 2) == 5  # ResNet-18's 2x2 map at 64 px: every half apart
    assert distinct_parts(part_boxes("halves"), 1, 1) == 1  # 32 px: every part is the whole image
    assert distinct_parts(part_boxes("bands3"), 2, 2) == 3  # the middle band = the whole at 2 rows


def test_pool_parts_refuses_pooled_features() -> None:
    with pytest.raises(AugmentationError, match="feature map"):
        pool_parts(torch.rand(2, 8), part_boxes("halves"))
