"""Triplet margin loss on L2-normalised embeddings with batch-hard or semi-hard mining (pytorch-metric-learning).

Positives are images of the same style (colour variants, and other views of the same product); negatives are
other styles. Batch-hard: for each anchor the farthest positive and nearest negative in the batch (Hermans et
al., 2017, "In Defense of the Triplet Loss"). Margin 0.2 is the default of shared/docs/method.md.
"""

from __future__ import annotations

import torch
from pytorch_metric_learning import losses, miners
from torch import nn

MINERS = {
    "batch_hard": lambda margin: miners.BatchHardMiner(),
    "semihard": lambda margin: miners.TripletMarginMiner(margin=margin, type_of_triplets="semihard"),
    "all": lambda margin: miners.TripletMarginMiner(margin=margin, type_of_triplets="all"),
}


class TripletLoss(nn.Module):
    """Mined triplet margin loss. Returns 0 (with a gradient path) when the batch holds no valid triplet.

    >>> loss = TripletLoss(margin=0.2, mining="batch_hard")
    >>> loss(torch.randn(8, 16), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])).ndim
    0
    """

    def __init__(self, margin: float = 0.2, mining: str = "batch_hard") -> None:
        super().__init__()
        if mining not in MINERS:
            raise ValueError(f"unknown mining {mining!r}; known: {sorted(MINERS)}")
        self.miner = MINERS[mining](margin)
        # LpDistance on normalised embeddings (pml's default) = Euclidean on the unit sphere.
        self.loss = losses.TripletMarginLoss(margin=margin)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        embeddings = nn.functional.normalize(embeddings, dim=1)
        triplets = self.miner(embeddings, labels)
        return self.loss(embeddings, labels, triplets)
