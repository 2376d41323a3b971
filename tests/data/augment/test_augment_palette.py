"""Palette remap: each colour slot of the garment gets its own colour; background and shading structure kept."""

from __future__ import annotations

import pytest
import torch

from colorvariants.data.augment import AugmentationError, palette_remap, random_palette, rgb_to_grayscale


def _two_slot_garment(n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Dark navy base with light cream stripes on a grey background; mask = the garment."""
    x = torch.full((n, 3, 16, 16), 0.5)
    mask = torch.zeros(n, 1, 16, 16)
    mask[..., 2:14, 2:14] = 1.0
    x[..., 2:14, 2:14] = torch.tensor([0.10, 0.14, 0.27]).view(1, 3, 1, 1)
    x[..., 2:14:3, 2:14] = torch.tensor([0.94, 0.90, 0.80]).view(1, 3, 1, 1)
    return x, mask


def test_slots_get_their_own_colours_and_lightness_order_can_flip() -> None:
    x, mask = _two_slot_garment(1)
    stripe, base = (0, slice(None), 2, 5), (0, slice(None), 3, 5)
    colours = torch.tensor([[[0.9, 0.9, 0.1], [0.05, 0.05, 0.05], [0.5, 0.5, 0.5]]])
    out = palette_remap(x, mask, colours)
    assert torch.equal(out[..., :2, :], x[..., :2, :])  # background untouched
    # the stripe is lighter than the base before; whichever slot got which colour, they now differ in colour
    assert not torch.allclose(out[stripe], out[base], atol=0.1)
    luma = rgb_to_grayscale(out)[0, 0]
    flipped = palette_remap(x, mask, colours.flip(1))
    luma_flipped = rgb_to_grayscale(flipped)[0, 0]
    # swapping the colours of the two slots swaps which one is lighter
    assert (luma[2, 5] > luma[3, 5]) != (luma_flipped[2, 5] > luma_flipped[3, 5])


def test_a_plain_shaded_garment_stays_one_colour() -> None:
    x = torch.full((1, 3, 16, 16), 0.9)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 2:14, 2:14] = 1.0
    shade = torch.linspace(0.7, 1.0, 12).view(1, 1, 1, 12)
    x[..., 2:14, 2:14] = torch.tensor([0.8, 0.2, 0.2]).view(1, 3, 1, 1) * shade  # red with a light gradient
    out = palette_remap(x, mask, torch.tensor([[[0.1, 0.6, 0.1], [0.1, 0.1, 0.9], [0.9, 0.9, 0.1]]]))
    garment = out[0, :, 2:14, 2:14]
    chroma = garment / garment.sum(0, keepdim=True)
    assert float(chroma.std(dim=(1, 2)).max()) < 0.02  # one hue across the gradient: no blotches
    assert float(garment.mean((1, 2)).argmax()) != 0  # and no longer red


def test_random_palette_p_and_arguments() -> None:
    x, mask = _two_slot_garment(64)
    assert torch.equal(random_palette(x, mask, p=0.0), x)
    out = random_palette(x, mask, p=0.5, generator=torch.Generator().manual_seed(0))
    changed = (out != x).flatten(1).any(1).float().mean()
    assert 0.25 < float(changed) < 0.75
    assert torch.equal(out[..., :2, :], x[..., :2, :])
    with pytest.raises(AugmentationError):
        random_palette(x, mask, slots=0)
