"""Batched geometric augmentations: random resized crop, flips, mild affine jitter, resize.

Every warp is one affine sampling grid (``F.affine_grid``'s, built by broadcasting) + one ``F.grid_sample``
call for the whole batch (bilinear, ``align_corners=False``), with one affine matrix per image, so crop, flip
and zoom cost one resampling pass.
Bilinear sampling does not low-pass filter: when a crop is *shrunk* to a smaller output it aliases, unlike
torchvision's antialiased ``Resize`` on tensors. At the training sizes here crops are enlarged (64 px
cache -> 64 px views), where both agree.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from colorvariants.data.augment._common import (
    AugmentationError,
    as_batch_param,
    bernoulli,
    check_images,
    rand,
    uniform,
)

_ATTEMPTS = 10  # torchvision's RandomResizedCrop.get_params tries 10 boxes before its centre-crop fallback


def sample_resized_crop_boxes(
    batch: int,
    height: int,
    width: int,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Per-image crop boxes ``(B, 4)`` = ``(top, left, height, width)`` in pixels, drawn as torchvision does.

    torchvision's ``RandomResizedCrop.get_params`` (Szegedy et al., "Going deeper with convolutions", 2015):
    area fraction uniform in ``scale``, aspect ratio log-uniform in ``ratio``, up to 10 attempts for a box
    that fits, else a centre crop clamped to ``ratio``. Here all 10 attempts are drawn at once for the whole
    batch and each image keeps its first fitting one.

    Raises:
        AugmentationError: ``scale`` or ``ratio`` is not an increasing positive range.

    >>> sample_resized_crop_boxes(2, 64, 64, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([2, 4])
    """
    if not (0.0 < scale[0] <= scale[1]) or not (0.0 < ratio[0] <= ratio[1]):
        raise AugmentationError(f"scale {scale} and ratio {ratio} must be increasing positive ranges.")
    device = torch.device(device)
    area = float(height * width)
    u = rand((4, batch, _ATTEMPTS), generator, device).double()
    target_area = area * (scale[0] + (scale[1] - scale[0]) * u[0])
    log_r0, log_r1 = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_r0 + (log_r1 - log_r0) * u[1])
    w = torch.round(torch.sqrt(target_area * aspect))
    h = torch.round(torch.sqrt(target_area / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    # torch.randint(0, n) for n = H - h + 1 positions: floor(u * n).
    top = torch.floor(u[2] * (height - h + 1)).clamp_(min=0)
    left = torch.floor(u[3] * (width - w + 1)).clamp_(min=0)
    first = fits.to(torch.int8).argmax(dim=1, keepdim=True)  # first attempt that fits (0 when none does)
    boxes = torch.stack([t.gather(1, first).squeeze(1) for t in (top, left, h, w)], dim=1)

    # Fallback when no attempt fits: the largest centre crop whose aspect ratio is within ``ratio``.
    in_ratio = width / height
    if in_ratio < ratio[0]:
        fw, fh = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        fw, fh = int(round(height * ratio[1])), height
    else:
        fw, fh = width, height
    fallback = torch.tensor([(height - fh) // 2, (width - fw) // 2, fh, fw], dtype=boxes.dtype, device=device)
    boxes = torch.where(fits.any(dim=1, keepdim=True), boxes, fallback)
    return boxes.float()


def _box_theta(
    boxes: Tensor, height: int, width: int, hflip: Tensor | None = None, vflip: Tensor | None = None
) -> Tensor:
    """Affine matrices ``(B, 2, 3)`` mapping output coordinates into the boxes (normalised coordinates).

    An output pixel centre at normalised ``u`` samples input ``x_n = u * w / W + (2 * left + w) / W - 1``;
    a flip negates the scale, so crop and flip share one resampling pass.
    """
    top, left, h, w = boxes.to(torch.float32).unbind(1)
    sx = w / width
    sy = h / height
    if hflip is not None:
        sx = torch.where(hflip, -sx, sx)
    if vflip is not None:
        sy = torch.where(vflip, -sy, sy)
    theta = torch.zeros(boxes.shape[0], 2, 3, device=boxes.device, dtype=torch.float32)
    theta[:, 0, 0] = sx
    theta[:, 0, 2] = (2.0 * left + w) / width - 1.0
    theta[:, 1, 1] = sy
    theta[:, 1, 2] = (2.0 * top + h) / height - 1.0
    return theta


def affine_grid(theta: Tensor, height: int, width: int, bounds: Tensor | None = None) -> Tensor:
    """``F.affine_grid(theta, (B, C, height, width), align_corners=False)`` by broadcasting.

    Same sampling grid, built from two 1-D coordinate vectors instead of a batched matmul over every pixel.
    ``bounds`` ``(B, 4)`` = ``(x_min, x_max, y_min, y_max)`` (normalised) clamps each image's sample points,
    so a crop's edge pixels replicate the crop's own border, as torchvision's crop-then-resize does.
    """
    dev, dt = theta.device, theta.dtype
    xs = (torch.arange(width, device=dev, dtype=dt) * 2.0 + 1.0) / width - 1.0  # pixel centres in [-1, 1]
    ys = ((torch.arange(height, device=dev, dtype=dt) * 2.0 + 1.0) / height - 1.0).view(-1, 1)
    t = theta.view(-1, 6, 1, 1)
    gx = (t[:, 0] * xs + t[:, 1] * ys).add_(t[:, 2])  # (B, H, W)
    gy = (t[:, 3] * xs + t[:, 4] * ys).add_(t[:, 5])
    if bounds is not None:
        lim = bounds.to(dt).view(-1, 4, 1, 1)
        gx = torch.clamp(gx, lim[:, 0], lim[:, 1])
        gy = torch.clamp(gy, lim[:, 2], lim[:, 3])
    return torch.stack([gx, gy], dim=-1)


def warp(
    x: Tensor,
    theta: Tensor,
    size: int | tuple[int, int],
    padding_mode: str = "border",
    bounds: Tensor | None = None,
) -> Tensor:
    """Resample each image of ``x`` through its own affine matrix ``theta[i]`` into ``size`` (one call)."""
    out_h, out_w = (size, size) if isinstance(size, int) else size
    grid = affine_grid(theta.to(x.dtype), out_h, out_w, bounds)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def resized_crop(
    x: Tensor,
    boxes: Tensor,
    size: int,
    hflip: Tensor | None = None,
    vflip: Tensor | None = None,
) -> Tensor:
    """Crop ``boxes`` ``(B, 4)`` = ``(top, left, height, width)`` pixels from each image, resize to ``size``.

    Equals torchvision's ``resized_crop(img, top, left, h, w, [size, size], antialias=False)`` per image
    (bilinear, half-pixel centres; sample points are clamped to the crop, so its edge pixels replicate as
    after torchvision's crop), optionally flipped, in one ``grid_sample``. Any channel count works, so a mask
    can be stacked as a 4th channel and follow the image.
    """
    check_images(x, channels=None)
    if boxes.shape != (x.shape[0], 4):
        raise AugmentationError(
            f"boxes must be (B, 4) = (top, left, height, width), got {tuple(boxes.shape)}."
        )
    h, w = x.shape[-2:]
    boxes = boxes.to(device=x.device, dtype=torch.float32)
    theta = _box_theta(boxes, h, w, hflip, vflip)
    top, left, bh, bw = boxes.unbind(1)
    # centres of the crop's first and last pixel columns/rows, normalised
    bounds = torch.stack([(2 * left + 1) / w - 1, (2 * (left + bw) - 1) / w - 1,
                          (2 * top + 1) / h - 1, (2 * (top + bh) - 1) / h - 1], dim=1)
    return warp(x, theta, size, bounds=bounds)


def random_resized_crop(
    x: Tensor,
    size: int,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
    generator: torch.Generator | None = None,
    hflip_prob: float = 0.0,
    vflip_prob: float = 0.0,
) -> Tensor:
    """torchvision's ``RandomResizedCrop`` per image, batched: ``(B, C, H, W)`` -> ``(B, C, size, size)``.

    Defaults are torchvision's (and SimCLR's, Chen et al. 2020: scale 0.08-1, ratio 3/4-4/3). ``hflip_prob``
    and ``vflip_prob`` fold random flips into the same resampling pass (used by the SimCLR/MoCo views).

    >>> random_resized_crop(torch.rand(4, 3, 32, 32), 16).shape
    torch.Size([4, 3, 16, 16])
    """
    check_images(x, channels=None)
    b, _, h, w = x.shape
    boxes = sample_resized_crop_boxes(b, h, w, scale, ratio, generator, x.device)
    hflip = bernoulli(b, hflip_prob, generator, x.device) if hflip_prob > 0 else None
    vflip = bernoulli(b, vflip_prob, generator, x.device) if vflip_prob > 0 else None
    return resized_crop(x, boxes, size, hflip, vflip)


def random_hflip(x: Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """Mirror each image left-right with probability ``p`` (``RandomHorizontalFlip`` per sample)."""
    check_images(x, channels=None)
    flip = bernoulli(x.shape[0], p, generator, x.device).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(-1), x)


def random_affine_jitter(
    x: Tensor,
    max_scale: float = 0.1,
    max_shift: float = 0.05,
    max_rotate_deg: float = 0.0,
    *,
    size: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Mild per-image zoom, shift and rotation (same output size), for views that must keep the whole design.

    Zoom is uniform in ``[1 - max_scale, 1 + max_scale]`` (> 1 zooms in), shift uniform in ``[-max_shift,
    max_shift]`` of the image side per axis, rotation uniform in ``[-max_rotate_deg, max_rotate_deg]``
    degrees. Pixels that come from outside the image *replicate the border*: catalogue images are letterboxed
    on a uniform background (white in our cache), so replicating the border extends that background seamlessly
    even after colour augmentation has changed it, where a constant white fill would leave a visible frame.
    ``size`` resizes in the same pass. Any channel count works (stack a mask to move it along).

    >>> random_affine_jitter(torch.rand(2, 3, 32, 32), 0.1, 0.05, 5.0).shape
    torch.Size([2, 3, 32, 32])
    """
    check_images(x, channels=None)
    if not 0.0 <= max_scale < 1.0 or max_shift < 0 or max_rotate_deg < 0:
        raise AugmentationError(
            f"need 0 <= max_scale < 1, max_shift >= 0, max_rotate_deg >= 0; got {max_scale}, {max_shift}, "
            f"{max_rotate_deg}."
        )
    b, _, h, w = x.shape
    dev = x.device
    zoom = uniform(b, 1.0 - max_scale, 1.0 + max_scale, generator, dev)
    shift = uniform(2 * b, -max_shift, max_shift, generator, dev).view(b, 2)
    angle = uniform(b, -max_rotate_deg, max_rotate_deg, generator, dev) * (math.pi / 180.0)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.zeros(b, 2, 3, device=dev, dtype=torch.float32)
    # Rotation in pixel space expressed in normalised coordinates (corrects for non-square images).
    theta[:, 0, 0] = cos
    theta[:, 0, 1] = -sin * (h / w)
    theta[:, 1, 0] = sin * (w / h)
    theta[:, 1, 1] = cos
    theta[:, :, 2] = 2.0 * shift  # a shift of ``s`` image sides is ``2 s`` in [-1, 1] coordinates
    return warp(x, theta, (h, w) if size is None else size)


def hflip(x: Tensor, flip: Tensor | bool = True) -> Tensor:
    """Mirror the images left-right; ``flip`` ``(B,)`` bool selects which (all when True)."""
    if isinstance(flip, bool):
        return x.flip(-1) if flip else x
    return torch.where(as_batch_param(flip.float(), x.shape[0], x) > 0.5, x.flip(-1), x)


def resize(x: Tensor, size: int, antialias: bool = True) -> Tensor:
    """Deterministic bilinear resize to ``size x size`` (antialiased when shrinking, as torchvision)."""
    check_images(x, channels=None)
    if x.shape[-2] == size and x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=antialias)
