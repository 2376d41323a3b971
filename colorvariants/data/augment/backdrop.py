"""Replace the background outside the foreground mask with a random smooth colour field (a new backdrop).

Two views of one photo share its background; a contrastive model can then match views by the background's
texture and placement instead of by the garment's design, a shortcut that colour variants (shot on other
backgrounds, in other scenes) do not share. Giving each view its own backdrop removes that shortcut, as
background removal does for the input (shared/docs/background.md), but as an augmentation, so the model still
sees real backgrounds at retrieval time. The field is a few random colours bilinearly upsampled from a coarse
grid: cheap, smooth like studio sweeps, and different in every view.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from colorvariants.data.augment._common import (
    AugmentationError,
    apply_to_subset,
    bernoulli,
    check_images,
    check_prob,
    mask_to_float,
    rand,
)


def smooth_fields(n: int, size: tuple[int, int], grid: int, generator: torch.Generator | None,
                  like: Tensor) -> Tensor:
    """``n`` random colour fields ``(n, 3, H, W)`` in [0, 1]: a ``grid x grid`` of colours, upsampled."""
    if grid < 1:
        raise AugmentationError(f"backdrop grid must be >= 1, got {grid}.")
    coarse = rand((n, 3, grid, grid), generator, like.device).to(like.dtype)
    return F.interpolate(coarse, size=size, mode="bilinear", align_corners=True)


def replace_background(x: Tensor, mask: Tensor, backdrop: Tensor) -> Tensor:
    """``x`` where the mask is 1, ``backdrop`` where it is 0 (soft masks blend)."""
    return torch.lerp(backdrop, x, mask)


def random_backdrop(
    x: Tensor, mask: Tensor, p: float = 0.5, grid: int = 3, generator: torch.Generator | None = None
) -> Tensor:
    """Give a random ``p`` share of the images a new backdrop outside ``mask``; the garment is kept bit for bit.

    Args:
        x: float ``(B, 3, H, W)`` in [0, 1].
        mask: foreground mask ``(B, 1, H, W)``, float in [0, 1] or uint8 0/255.
        p: share of the images whose background is replaced.
        grid: coarseness of the colour field (1 = a flat colour).

    >>> x, m = torch.rand(2, 3, 8, 8), torch.ones(2, 1, 8, 8)
    >>> bool((random_backdrop(x, m, p=1.0) == x).all())
    True
    """
    check_images(x)
    check_prob(p)
    m = mask_to_float(mask, x)
    b = x.shape[0]
    selected = bernoulli(b, p, generator, x.device)
    backdrop = smooth_fields(b, (x.shape[-2], x.shape[-1]), grid, generator, x)
    return apply_to_subset(x, selected, replace_background, m, backdrop)
