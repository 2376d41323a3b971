"""NT-Xent per fixed part, averaged over parts: the CV-SSL objective (shared/docs/method.md, section 3).

For part p, view A of image i must match view B of image i against the same part p of the other images in the
batch (lightly's ``NTXentLoss``, so the maths and DDP gathering are lightly's). Averaging over parts gives every
part equal weight, so fine details in one half count as much as the whole silhouette.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from lightly.loss import NTXentLoss
from torch import nn


class PartNTXentLoss(nn.Module):
    """Mean over parts of NT-Xent between the two views' projections of that part.

    >>> loss = PartNTXentLoss(temperature=0.1)
    >>> z = [torch.randn(4, 8) for _ in range(3)]
    >>> float(loss(z, z)) >= 0
    True
    """

    def __init__(self, temperature: float = 0.1, gather_distributed: bool = True) -> None:
        super().__init__()
        self.criterion = NTXentLoss(temperature=temperature, gather_distributed=gather_distributed)

    def forward(self, view_a: Sequence[torch.Tensor], view_b: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(view_a) != len(view_b) or not view_a:
            raise ValueError(f"need the same non-zero number of parts per view, got {len(view_a)} and {len(view_b)}")
        return torch.stack([self.criterion(a, b) for a, b in zip(view_a, view_b, strict=True)]).mean()
