"""Batched Gaussian blur with a random sigma per image (lightly's ``GaussianBlur``: sigma in pixels, 0.1-2).

SimCLR (Chen et al. 2020, appendix A) blurs half of the views with sigma uniform in [0.1, 2.0]; lightly
applies it with PIL's ``GaussianBlur(radius=sigma)``, whose radius is the standard deviation in pixels. Here
each image gets its own separable kernel, evaluated on a shared support of ``±ceil(3 * sigma_max)`` pixels
(so it covers ±3 sigma for every image without a data-dependent size), and the whole batch is filtered by two
grouped 1-D convolutions. Edges replicate the border pixel, as PIL does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from colorvariants.data.augment._common import (
    AugmentationError,
    apply_to_subset,
    as_batch_param,
    bernoulli,
    check_images,
    uniform,
)


def gaussian_kernels(sigma: Tensor, radius: int) -> Tensor:
    """Normalised 1-D Gaussian kernels ``(B, 2 * radius + 1)``, one per sigma (in pixels)."""
    taps = torch.arange(-radius, radius + 1, device=sigma.device, dtype=sigma.dtype)
    weights = torch.exp(-0.5 * (taps.unsqueeze(0) / sigma.view(-1, 1)) ** 2)
    return weights / weights.sum(dim=1, keepdim=True)


def blur_with_sigma(x: Tensor, sigma: float | Tensor, radius: int | None = None) -> Tensor:
    """Blur each image with its own Gaussian ``sigma`` (float or ``(B,)``, pixels) over ``±radius`` pixels.

    ``radius`` defaults to ``ceil(3 * max(sigma))``. Equals torchvision's ``gaussian_blur`` with ``kernel_size
    = 2 * radius + 1`` away from the borders (torchvision reflects at the border, this replicates).
    """
    check_images(x, channels=None)
    b, c, h, w = x.shape
    sig = as_batch_param(sigma, b, x).view(b)
    if bool((sig <= 0).any()):
        raise AugmentationError("blur sigma must be positive.")
    if radius is None:
        radius = max(1, math.ceil(3.0 * float(sig.max())))
    kernels = gaussian_kernels(sig, radius).repeat_interleave(c, dim=0)  # (B*C, K)
    k = 2 * radius + 1
    flat = x.reshape(1, b * c, h, w)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="replicate")
    flat = F.conv2d(flat, kernels.view(b * c, 1, 1, k), groups=b * c)
    flat = F.conv2d(flat, kernels.view(b * c, 1, k, 1), groups=b * c)
    return flat.view(b, c, h, w)


def gaussian_blur(
    x: Tensor,
    p: float = 0.5,
    sigmas: tuple[float, float] = (0.1, 2.0),
    generator: torch.Generator | None = None,
) -> Tensor:
    """Blur a random ``p`` share of the images, each with sigma uniform in ``sigmas`` (lightly's defaults).

    >>> gaussian_blur(torch.rand(4, 3, 16, 16), p=1.0).shape
    torch.Size([4, 3, 16, 16])
    """
    check_images(x)
    if not 0.0 < sigmas[0] <= sigmas[1]:
        raise AugmentationError(f"sigmas must be an increasing positive range, got {sigmas}.")
    b = x.shape[0]
    sigma = uniform(b, sigmas[0], sigmas[1], generator, x.device)
    selected = bernoulli(b, p, generator, x.device)
    radius = max(1, math.ceil(3.0 * sigmas[1]))  # fixed support: no host sync on the drawn sigmas
    return apply_to_subset(x, selected, lambda xs, s: blur_with_sigma(xs, s, radius), sigma)
