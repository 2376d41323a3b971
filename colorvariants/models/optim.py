"""Optimisers and learning-rate schedules by name (a registry, so a YAML picks one without code changes)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {}


def register_optimizer(name: str) -> Callable[[Callable[..., torch.optim.Optimizer]], Callable[..., torch.optim.Optimizer]]:
    def deco(fn: Callable[..., torch.optim.Optimizer]) -> Callable[..., torch.optim.Optimizer]:
        OPTIMIZERS[name] = fn
        return fn

    return deco


@dataclass
class OptimizerConfig:
    """Optimiser and schedule. Defaults follow lightly's CIFAR-10 benchmark (SGD 0.06, momentum 0.9, wd 5e-4,
    cosine decay), which the SSL baselines must stay faithful to."""

    name: str = "sgd"
    lr: float = 0.06
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 0.0
    schedule: str = "cosine"  # "cosine" or "constant"
    scale_lr_with_batch: bool = True  # lr * batch_size / 128, as lightly's benchmarks do


@register_optimizer("sgd")
def _sgd(params: list[torch.nn.Parameter], cfg: OptimizerConfig, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                           fused=can_fuse(params) or None)


@register_optimizer("adamw")
def _adamw(params: list[torch.nn.Parameter], cfg: OptimizerConfig, lr: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay, fused=can_fuse(params) or None)


def can_fuse(params: list[torch.nn.Parameter]) -> bool:
    """Whether torch's fused optimiser kernels take these parameters (float tensors on CPU or CUDA).

    The same update maths in one kernel: on CPU torch otherwise loops over the tensors one by one, which cost
    ResNet-18 61 ms per AdamW step against 12 ms fused (SGD 19 vs 8; BENCHMARKS.md "Training speed levers").
    """
    return bool(params) and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)


def build_optimizer(
    params: Iterable[torch.nn.Parameter], cfg: OptimizerConfig, batch_size: int
) -> torch.optim.Optimizer:
    """The configured optimiser (fused kernels where the parameters allow); ``ValueError`` for an unknown name."""
    if cfg.name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {cfg.name!r}; known: {sorted(OPTIMIZERS)}")
    lr = cfg.lr * (batch_size / 128 if cfg.scale_lr_with_batch else 1.0)
    return OPTIMIZERS[cfg.name](list(params), cfg, lr)


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, schedule: str = "cosine") -> float:
    """LR multiplier at ``step``: linear warm-up, then cosine decay to 0 (or constant)."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant" or total_steps <= warmup_steps:
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))
