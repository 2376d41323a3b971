"""Optimiser registry: fused kernels where the parameters allow, the same update as torch's plain loop."""

from __future__ import annotations

import pytest
import torch

from colorvariants.models.optim import OptimizerConfig, build_optimizer, can_fuse


@pytest.mark.parametrize("name", ["sgd", "adamw"])
def test_fused_step_matches_the_per_tensor_loop(name: str) -> None:
    torch.manual_seed(0)
    cfg = OptimizerConfig(name=name, lr=0.05, weight_decay=1e-2)
    fused_params = [torch.nn.Parameter(torch.randn(7, 5)), torch.nn.Parameter(torch.randn(3))]
    loop_params = [torch.nn.Parameter(p.detach().clone()) for p in fused_params]
    fused = build_optimizer(fused_params, cfg, batch_size=128)
    assert fused.defaults["fused"] is True
    loop = build_optimizer(loop_params, cfg, batch_size=128)
    for group in loop.param_groups:
        group["fused"], group["foreach"] = False, False  # torch's per-tensor loop
    loop.defaults["fused"] = False
    for _ in range(3):
        grads = [torch.randn_like(p) for p in fused_params]
        for opt, params in ((fused, fused_params), (loop, loop_params)):
            for p, g in zip(params, grads, strict=True):
                p.grad = g.clone()
            opt.step()
    for a, b in zip(fused_params, loop_params, strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_fusing_needs_float_parameters_on_cpu_or_cuda() -> None:
    assert can_fuse([torch.nn.Parameter(torch.zeros(2))])
    assert not can_fuse([])
    assert not can_fuse([torch.nn.Parameter(torch.zeros(2, device="meta"))])
