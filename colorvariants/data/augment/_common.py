"""Shared helpers of the augmentations: per-sample random draws from a ``torch.Generator`` and input checks.

Every random parameter is drawn on the generator's device (or ``x``'s device with the global RNG when no
generator is given) and moved to ``x``'s device, so a CPU generator can seed augmentations of GPU batches.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from colorvariants.errors import ColorVariantsError

# ITU-R BT.601 luma weights as torchvision's ``rgb_to_grayscale`` writes them (0.2989, not 0.299).
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)


class AugmentationError(ColorVariantsError, ValueError):
    """An augmentation got an input or a parameter it cannot use (wrong shape, dtype or range)."""


def check_images(x: Tensor, name: str = "x", channels: int | None = 3) -> None:
    """Raise ``AugmentationError`` unless ``x`` is a floating ``(B, C, H, W)`` batch (C = ``channels``)."""
    if not isinstance(x, Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise AugmentationError(f"{name} must be a (B, 3, H, W) tensor, got {shape}.")
    if channels is not None and x.shape[1] != channels:
        raise AugmentationError(f"{name} must have {channels} channels, got shape {tuple(x.shape)}.")
    if not x.is_floating_point():
        raise AugmentationError(
            f"{name} must be float in [0, 1], got {x.dtype}. "
            "Fix: convert with x.float() / 255 (or to_float(x))."
        )


def check_prob(p: float, name: str = "p") -> None:
    """Raise ``AugmentationError`` unless ``0 <= p <= 1``."""
    if not 0.0 <= float(p) <= 1.0:
        raise AugmentationError(f"{name} must be a probability in [0, 1], got {p}.")


def to_float(images: Tensor) -> Tensor:
    """uint8 ``(B, 3, H, W)`` in [0, 255] -> float32 in [0, 1]; a float batch comes back as float32."""
    if images.dtype == torch.uint8:
        return images.to(torch.float32).mul_(1.0 / 255.0)
    if not images.is_floating_point():
        raise AugmentationError(f"images must be uint8 in [0, 255] or float in [0, 1], got {images.dtype}.")
    return images.float()


def mask_to_float(mask: Tensor, like: Tensor) -> Tensor:
    """A foreground mask ``(B, 1, H, W)`` (uint8 0/255 or float in [0, 1]) as float like ``like``."""
    if mask.ndim == 3:
        mask = mask.unsqueeze(1)
    if mask.ndim != 4 or mask.shape[1] != 1:
        raise AugmentationError(f"mask must be (B, 1, H, W), got {tuple(mask.shape)}.")
    if mask.shape[0] != like.shape[0] or mask.shape[-2:] != like.shape[-2:]:
        raise AugmentationError(
            f"mask {tuple(mask.shape)} does not match the images {tuple(like.shape)} (batch, height, width)."
        )
    if mask.dtype == torch.uint8:
        return mask.to(device=like.device, dtype=like.dtype).mul_(1.0 / 255.0)
    return mask.to(device=like.device, dtype=like.dtype)


def rand(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Uniform [0, 1) float32 of ``shape`` from ``generator`` (global RNG when None), on ``device``."""
    gen_device = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=gen_device).to(device)


def uniform(
    n: int, low: float, high: float, generator: torch.Generator | None, device: torch.device
) -> Tensor:
    """``n`` draws uniform in ``[low, high)``."""
    return rand((n,), generator, device).mul_(high - low).add_(low)


def log_uniform(
    n: int, low: float, high: float, generator: torch.Generator | None, device: torch.device
) -> Tensor:
    """``n`` draws with log uniform in ``[log low, log high)`` (scale-free parameters: gamma, ratio)."""
    return uniform(n, math.log(low), math.log(high), generator, device).exp_()


def bernoulli(n: int, p: float, generator: torch.Generator | None, device: torch.device) -> Tensor:
    """``n`` booleans, each True with probability ``p`` (``RandomApply`` per sample)."""
    check_prob(p)
    return rand((n,), generator, device) < p


def as_batch_param(value: float | Tensor, n: int, like: Tensor) -> Tensor:
    """A per-sample parameter (a float for all, or a ``(B,)`` tensor) as ``(B, 1, 1, 1)`` like ``like``."""
    if isinstance(value, Tensor):
        value = value.to(device=like.device, dtype=like.dtype).reshape(-1)
        if value.numel() == 1:
            value = value.expand(n)
        if value.numel() != n:
            raise AugmentationError(
                f"a per-sample parameter needs {n} values (one per image), got {value.numel()}."
            )
        return value.view(n, 1, 1, 1)
    return torch.full((n, 1, 1, 1), float(value), device=like.device, dtype=like.dtype)


def apply_to_subset(
    x: Tensor, selected: Tensor, fn: Callable[..., Tensor], *params: Tensor, inplace: bool = False
) -> Tensor:
    """``fn(x[selected], *params[selected])`` written back into ``x``'s images; the rest is left as it is.

    Only the selected images are computed (the expensive ops: hue, blur). ``x`` is copied first unless
    ``inplace`` (for a working tensor the caller owns), so a caller's batch is never modified.
    """
    idx = selected.nonzero().squeeze(1)
    n = int(idx.numel())
    if n == 0:
        return x
    if n == x.shape[0]:
        return fn(x, *params)
    out = fn(x.index_select(0, idx), *(p.index_select(0, idx) for p in params))
    return x.index_copy_(0, idx, out) if inplace else x.index_copy(0, idx, out)


@contextlib.contextmanager
def limit_cpu_threads(threads: int | None, device: torch.device) -> Iterator[None]:
    """Run a block with ``threads`` torch CPU threads (restored after); no-op for None or a non-CPU device.

    The augmentations are memory-bound elementwise passes: a second OpenMP thread gains little on 2 cores, but
    when the cores are shared or oversubscribed (other jobs, DataLoader workers) every parallel region waits
    for a descheduled thread at its barrier. Measured on the shared 2-core machine (load ~7): SimCLR views of
    256 images at 64 px took 0.11 s with 1 thread and 0.9 s with 2.
    """
    if threads is None or device.type != "cpu" or torch.get_num_threads() == threads:
        yield
        return
    if threads < 1:
        raise AugmentationError(f"cpu_threads must be >= 1 or None, got {threads}.")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
