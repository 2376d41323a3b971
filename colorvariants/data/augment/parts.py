"""Fixed part crops for CV-SSL: the whole image plus halves, quadrants or bands (method.md, sec. 3).

Dutta et al. (2021) contrast fixed parts instead of random crops, so fine design details (collar, print,
pocket) are compared part by part. Their exact geometry is not public; ``"halves"`` (whole + top, bottom,
left, right) is our default and every layout is a registry entry, so the benchmark can ablate them.

Boxes are in normalised image coordinates ``(x0, y0, x1, y1)`` in [0, 1]. ``overlap`` enlarges parts: every
edge of a part that is *inside* the image moves outward by ``overlap`` times the part's size along that axis
(edges on the image border stay), so with ``overlap=0.25`` the top half covers rows ``[0, 0.625]`` and two
neighbouring parts share a band of ``2 * overlap`` part sizes.

``crop_parts`` resizes every part to a ``size x size`` square, so a half (a 2:1 rectangle) is stretched 2x
along its short side. That keeps one input shape for the shared backbone; the distortion is the same in both
views of a pair, so the contrastive task is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from colorvariants.data.augment._common import AugmentationError, check_images


class PartBox(NamedTuple):
    """A named part of the image in normalised coordinates (x0, y0, x1, y1) = (left, top, right, bottom)."""

    name: str
    x0: float
    y0: float
    x1: float
    y1: float


WHOLE = PartBox("whole", 0.0, 0.0, 1.0, 1.0)

PART_LAYOUTS: dict[str, tuple[PartBox, ...]] = {}


def register_part_layout(name: str, boxes: Sequence[PartBox]) -> None:
    """Add a layout (its boxes before overlap) to ``PART_LAYOUTS``; a name can be registered once."""
    if name in PART_LAYOUTS:
        raise AugmentationError(f"part layout {name!r} is already registered.")
    for box in boxes:
        if not (0.0 <= box.x0 < box.x1 <= 1.0 and 0.0 <= box.y0 < box.y1 <= 1.0):
            raise AugmentationError(
                f"part {box.name!r} of layout {name!r} is not a box inside [0, 1]^2: {box}."
            )
    PART_LAYOUTS[name] = tuple(boxes)


register_part_layout("whole", (WHOLE,))  # no parts: the ablation "CV-SSL without part crops"
register_part_layout(
    "halves",
    (
        WHOLE,
        PartBox("top", 0.0, 0.0, 1.0, 0.5),
        PartBox("bottom", 0.0, 0.5, 1.0, 1.0),
        PartBox("left", 0.0, 0.0, 0.5, 1.0),
        PartBox("right", 0.5, 0.0, 1.0, 1.0),
    ),
)
register_part_layout(
    "grid2x2",
    (
        WHOLE,
        PartBox("top_left", 0.0, 0.0, 0.5, 0.5),
        PartBox("top_right", 0.5, 0.0, 1.0, 0.5),
        PartBox("bottom_left", 0.0, 0.5, 0.5, 1.0),
        PartBox("bottom_right", 0.5, 0.5, 1.0, 1.0),
    ),
)
register_part_layout(
    "bands3",
    (
        WHOLE,
        PartBox("top", 0.0, 0.0, 1.0, 1.0 / 3.0),
        PartBox("middle", 0.0, 1.0 / 3.0, 1.0, 2.0 / 3.0),
        PartBox("bottom", 0.0, 2.0 / 3.0, 1.0, 1.0),
    ),
)


def _grow(lo: float, hi: float, overlap: float) -> tuple[float, float]:
    """Move the interior edges of ``[lo, hi]`` outward by ``overlap * (hi - lo)``; clip to [0, 1]."""
    grow = overlap * (hi - lo)
    new_lo = lo if lo <= 0.0 else max(0.0, lo - grow)
    new_hi = hi if hi >= 1.0 else min(1.0, hi + grow)
    return new_lo, new_hi


def part_boxes(layout: str = "halves", overlap: float = 0.0) -> list[PartBox]:
    """The parts of ``layout`` (whole image first), each enlarged by ``overlap`` (see the module docstring).

    Raises:
        AugmentationError: unknown layout (the message lists the known ones) or ``overlap`` outside [0, 1).

    >>> [b.name for b in part_boxes("halves")]
    ['whole', 'top', 'bottom', 'left', 'right']
    >>> part_boxes("halves", overlap=0.25)[1]
    PartBox(name='top', x0=0.0, y0=0.0, x1=1.0, y1=0.625)
    """
    if layout not in PART_LAYOUTS:
        raise AugmentationError(f"unknown part layout {layout!r}; choose one of {sorted(PART_LAYOUTS)}.")
    if not 0.0 <= overlap < 1.0:
        raise AugmentationError(f"part overlap must be in [0, 1), got {overlap}.")
    out = []
    for box in PART_LAYOUTS[layout]:
        x0, x1 = _grow(box.x0, box.x1, overlap)
        y0, y1 = _grow(box.y0, box.y1, overlap)
        out.append(PartBox(box.name, x0, y0, x1, y1))
    return out


def _clamp_to_part(coords: Tensor, lo: float, hi: float, pixels: int) -> Tensor:
    """Clamp normalised coordinates to the centres of the first and last pixel of ``[lo, hi]`` (fractions)."""
    first = 2.0 * (lo + 0.5 / pixels) - 1.0
    last = 2.0 * (hi - 0.5 / pixels) - 1.0
    return coords.clamp(min(first, last), max(first, last))


def crop_parts(x: Tensor, boxes: Sequence[PartBox], size: int) -> Tensor:
    """Cut every part of every image, resized to a square: ``(B, C, H, W)`` -> ``(P, B, C, size, size)``.

    One ``F.grid_sample`` for all parts of all images: the parts' sampling grids are stacked along the output
    height, so the input is read once and never copied per part (8x faster than ``roi_align`` on CPU at 64
    px). Bilinear, half-pixel centres (``align_corners=False``), sample points clamped to the part's edge
    pixels: a part equals torchvision's ``resized_crop(..., antialias=False)`` of it, and one whose pixel size
    equals ``size`` comes back exactly. Bilinear sampling does not low-pass filter, so shrinking a part by
    more than 2x aliases; the CV-SSL default (a half of a 64 px view at 32 px) shrinks by at most 2x, where
    every input pixel still contributes. Works on any float batch (``[0, 1]`` or already normalised: cropping
    commutes with per-channel normalisation).

    >>> crop_parts(torch.rand(2, 3, 32, 32), part_boxes("halves"), 16).shape
    torch.Size([5, 2, 3, 16, 16])
    """
    check_images(x, channels=None)
    if not boxes:
        raise AugmentationError("crop_parts needs at least one PartBox.")
    b, c = x.shape[:2]
    p = len(boxes)
    dt, dev = x.dtype, x.device
    # output pixel centres as fractions of the part, in (0, 1)
    steps = (torch.arange(size, device=dev, dtype=torch.float64) + 0.5) / size
    grids = []
    h, w = x.shape[-2:]
    for box in boxes:
        # normalised input coordinate of an output pixel centre: 2 * (x0 + t * (x1 - x0)) - 1, clamped to the
        # centres of the part's own edge pixels (as torchvision's crop-then-resize: no bleeding past the part)
        gx = _clamp_to_part((box.x0 + steps * (box.x1 - box.x0)) * 2.0 - 1.0, box.x0, box.x1, w)
        gy = _clamp_to_part((box.y0 + steps * (box.y1 - box.y0)) * 2.0 - 1.0, box.y0, box.y1, h)
        grids.append(torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1))
    grid = torch.cat(grids, dim=0).to(dt).unsqueeze(0).expand(b, -1, -1, -1)  # (B, P*size, size, 2)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.view(b, c, p, size, size).permute(2, 0, 1, 3, 4).contiguous()


def _cell_overlap(lo: float, hi: float, cells: int) -> Tensor:
    """Length of ``[lo, hi]`` (fractions) inside each of ``cells`` equal cells of [0, 1], as a fraction of a cell."""
    edges = torch.arange(cells + 1, dtype=torch.float64) / cells
    return ((torch.minimum(edges[1:], torch.tensor(hi)) - torch.maximum(edges[:-1], torch.tensor(lo)))
            .clamp(min=0.0) * cells)


def part_cell_weights(boxes: Sequence[PartBox], height: int, width: int) -> Tensor:
    """Average-pooling weights ``(P, height, width)`` of every part over a feature map's cells (each sums to 1).

    A cell's weight is the fraction of its area inside the part, so a part that covers whole cells is their
    plain mean and one that cuts a cell takes it in proportion (the exact mean of a piecewise-constant map).

    >>> part_cell_weights(part_boxes("halves"), 2, 2)[1]  # top half of a 2x2 map: the first row
    tensor([[0.5000, 0.5000],
            [0.0000, 0.0000]], dtype=torch.float64)
    """
    if not boxes:
        raise AugmentationError("part_cell_weights needs at least one PartBox.")
    weights = torch.stack([torch.outer(_cell_overlap(b.y0, b.y1, height), _cell_overlap(b.x0, b.x1, width))
                           for b in boxes])
    return weights / weights.sum(dim=(1, 2), keepdim=True)


def pool_parts(fmap: Tensor, boxes: Sequence[PartBox]) -> Tensor:
    """Each part's mean feature from a feature map (PCB-style): ``(B, C, h, w)`` -> ``(P, B, C)``.

    The parts of one backbone pass instead of one pass per crop (Sun et al., "Beyond Part Models", 2018,
    pool horizontal stripes of the last map the same way). The whole image's entry equals global average
    pooling. When the map has fewer cells than the layout has distinct parts (e.g. 1x1), parts coincide:
    ``distinct_parts`` says so.

    >>> pool_parts(torch.rand(2, 8, 2, 2), part_boxes("halves")).shape
    torch.Size([5, 2, 8])
    """
    if fmap.dim() != 4:
        raise AugmentationError(f"pool_parts expects a feature map (B, C, h, w), got shape {tuple(fmap.shape)}.")
    weights = part_cell_weights(boxes, fmap.shape[-2], fmap.shape[-1]).to(fmap.device, fmap.dtype)
    return torch.einsum("bchw,phw->pbc", fmap, weights)


def distinct_parts(boxes: Sequence[PartBox], height: int, width: int) -> int:
    """How many of the parts pool different cells of an ``height x width`` map (all of them when it is fine enough)."""
    weights = part_cell_weights(boxes, height, width).flatten(1)
    return int(torch.unique(weights.round(decimals=6), dim=0).shape[0])
