"""Remap the garment's palette inside the mask: each colour slot of the garment gets its own random colour.

A colour variant is the same design dyed in another colourway: every colour slot (base, pattern, accent) is
refilled on its own, so a light stripe on a dark base can become a dark stripe on a light base. A hue
rotation or a monotone luminance curve (``recolor``) changes all slots together and keeps their lightness
order, which teaches only part of that invariance. Here the garment's pixels are clustered into colour slots
(k-means), each slot is refilled with a random colour of any hue, saturation and lightness, and the slot's own
shading (folds, lighting) is kept as a multiplicative factor, so edges and texture survive while the colour
order is shuffled. Pixels outside the mask are returned unchanged.
"""

from __future__ import annotations

import torch
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
from colorvariants.data.augment.color import hsv_to_rgb
from colorvariants.data.augment.recolor import rgb_to_ycbcr


def _slot_labels(feats: Tensor, inside: Tensor, k: int, iterations: int = 5) -> tuple[Tensor, Tensor]:
    """k-means of the garment's pixels in ``feats`` ``(B, C, H, W)``: labels ``(B, H, W)`` and centroids
    ``(B, k, C)``, started from luma quantiles (feature 0), so runs are deterministic."""
    b, c = feats.shape[:2]
    f = feats.flatten(2).transpose(1, 2)  # (B, N, C)
    w = inside.flatten(1).to(f.dtype)  # (B, N)
    luma = f[..., 0].masked_fill(w == 0, float("inf"))
    order = luma.argsort(dim=1)
    count = w.sum(1).clamp(min=1)
    q = (torch.arange(k, device=f.device, dtype=f.dtype) + 0.5) / k
    pos = (q.view(1, -1) * (count.view(-1, 1) - 1)).round().long()
    centroids = f.gather(1, order.gather(1, pos).unsqueeze(-1).expand(b, k, c))
    for _ in range(iterations):
        labels = torch.cdist(f, centroids).argmin(-1)  # (B, N)
        onehot = torch.nn.functional.one_hot(labels, k).to(f.dtype) * w.unsqueeze(-1)
        mass = onehot.sum(1)  # (B, k)
        moved = onehot.transpose(1, 2) @ f / mass.clamp(min=1).unsqueeze(-1)
        centroids = torch.where(mass.unsqueeze(-1) > 0, moved, centroids)
    labels = torch.cdist(f, centroids).argmin(-1)
    return labels.view(b, *feats.shape[-2:]), centroids


def palette_remap(x: Tensor, mask: Tensor, colours: Tensor, merge: float = 0.1) -> Tensor:
    """Refill each colour slot of each garment with ``colours[:, slot]``, keeping the slot's shading.

    Slots are found by k-means (``k = colours.shape[1]``) on the garment's pixels in (luma / 2, Cb, Cr), so
    shading (mostly a luma change) splits a slot less than a change of colour does; slots whose centres are
    closer than ``merge`` share a colour, so a plain garment is not cut into blotches.

    Args:
        x: float ``(B, 3, H, W)`` in [0, 1].
        mask: float ``(B, 1, H, W)`` in [0, 1] (soft edges blend).
        colours: ``(B, K, 3)`` RGB in [0, 1].
    """
    k = colours.shape[1]
    y, cb, cr = rgb_to_ycbcr(x)
    inside = mask > 0.5
    labels, centroids = _slot_labels(torch.cat([y * 0.5, cb, cr], dim=1), inside, k)
    colours = colours.to(x.dtype).clone()
    dist = torch.cdist(centroids, centroids)  # (B, k, k)
    for i in range(1, k):  # a slot close to an earlier one takes that slot's colour
        close = dist[:, i, :i] < merge
        if bool(close.any()):
            first = close.to(torch.int8).argmax(1)
            src = colours[torch.arange(x.shape[0]), first]
            colours[:, i] = torch.where(close.any(1, keepdim=True), src, colours[:, i])
    onehot = torch.nn.functional.one_hot(labels, k).permute(0, 3, 1, 2).to(x.dtype)
    weight = onehot * inside.to(x.dtype)
    slot_mean = (weight * y).sum((2, 3)) / weight.sum((2, 3)).clamp(min=1.0)  # (B, k)
    mean_here = torch.einsum("bkhw,bk->bhw", onehot, slot_mean).unsqueeze(1)
    shading = (y / mean_here.clamp(min=1e-3)).clamp(0.3, 2.0)
    target = torch.einsum("bkhw,bkc->bchw", onehot, colours)
    return torch.lerp(x, (target * shading).clamp(0.0, 1.0), mask)


def random_palette(
    x: Tensor,
    mask: Tensor,
    p: float = 0.5,
    slots: int = 3,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Give a random ``p`` share of the garments a new colourway (``palette_remap`` with random colours).

    Each chosen image draws one colour per slot (up to ``slots``): hue uniform on the circle, saturation
    uniform in [0, 1], value uniform in [0.08, 1] (near-black to white).

    >>> x, m = torch.rand(2, 3, 8, 8), torch.zeros(2, 1, 8, 8)
    >>> bool((random_palette(x, m, p=1.0) == x).all())
    True
    """
    check_images(x)
    check_prob(p)
    if slots < 1:
        raise AugmentationError(f"palette slots must be >= 1, got {slots}.")
    m = mask_to_float(mask, x)
    b, dev, k = x.shape[0], x.device, slots
    hsv = rand((b * k, 3), generator, dev)
    hsv[:, 2] = hsv[:, 2] * 0.92 + 0.08
    colours = hsv_to_rgb(hsv.view(b * k, 3, 1, 1)).view(b, k, 3)
    selected = bernoulli(b, p, generator, dev)
    return apply_to_subset(x, selected, palette_remap, m, colours)
