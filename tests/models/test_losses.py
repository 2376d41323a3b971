"""Loss functions on hand-made inputs whose values are known in closed form."""

from __future__ import annotations

import math

import pytest
import torch

from colorvariants.models.losses import PartNTXentLoss, TripletLoss


class TestTripletLoss:
    def test_zero_when_positives_coincide_and_negatives_are_orthogonal(self) -> None:
        e = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
        labels = torch.tensor([0, 0, 1, 1])
        assert float(TripletLoss(margin=0.2)(e, labels)) == pytest.approx(0.0, abs=1e-6)

    def test_batch_hard_value_when_negative_coincides_with_anchor(self) -> None:
        # Anchor 0 and its positive 1 are orthogonal (distance sqrt 2); negative 2 equals anchor (distance 0).
        e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
        labels = torch.tensor([0, 0, 1, 1])
        # Every anchor: hardest positive at sqrt(2), hardest negative at 0 -> sqrt(2) + margin.
        expected = math.sqrt(2) + 0.2
        assert float(TripletLoss(margin=0.2, mining="batch_hard")(e, labels)) == pytest.approx(expected, rel=1e-4)

    def test_gradient_pulls_positives_together(self) -> None:
        torch.manual_seed(0)
        e = torch.randn(8, 16, requires_grad=True)
        labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
        loss = TripletLoss(margin=0.2)(e, labels)
        loss.backward()
        assert e.grad is not None and float(e.grad.abs().sum()) > 0

    @pytest.mark.parametrize("mining", ["batch_hard", "semihard", "all"])
    def test_minings_accept_batches(self, mining: str) -> None:
        out = TripletLoss(mining=mining)(torch.randn(6, 4), torch.tensor([0, 0, 1, 1, 2, 2]))
        assert out.ndim == 0 and torch.isfinite(out)

    def test_unknown_mining_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="known"):
            TripletLoss(mining="hardest-ever")


def _ntxent_reference(a: torch.Tensor, b: torch.Tensor, t: float) -> float:
    """NT-Xent (SimCLR eq. 1) written out: 2N anchors, positives across views, all others negatives."""
    z = torch.nn.functional.normalize(torch.cat([a, b]), dim=1)
    n = a.shape[0]
    sim = z @ z.T / t
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        logits = torch.cat([sim[i, :i], sim[i, i + 1:]])
        pos = sim[i, j]
        total += float(-pos + torch.logsumexp(logits, 0))
    return total / (2 * n)


class TestPartNTXentLoss:
    def test_single_part_matches_the_written_out_formula(self) -> None:
        torch.manual_seed(1)
        a, b = torch.randn(5, 8), torch.randn(5, 8)
        got = float(PartNTXentLoss(temperature=0.2, gather_distributed=False)([a], [b]))
        assert got == pytest.approx(_ntxent_reference(a, b, 0.2), rel=1e-4)

    def test_mean_over_parts(self) -> None:
        torch.manual_seed(2)
        parts_a = [torch.randn(4, 6) for _ in range(3)]
        parts_b = [torch.randn(4, 6) for _ in range(3)]
        loss = PartNTXentLoss(temperature=0.5, gather_distributed=False)
        expected = sum(_ntxent_reference(a, b, 0.5) for a, b in zip(parts_a, parts_b, strict=True)) / 3
        assert float(loss(parts_a, parts_b)) == pytest.approx(expected, rel=1e-4)

    def test_aligned_views_score_lower_than_shuffled(self) -> None:
        torch.manual_seed(3)
        a = torch.randn(16, 32)
        loss = PartNTXentLoss(temperature=0.1, gather_distributed=False)
        aligned = float(loss([a], [a + 0.01 * torch.randn_like(a)]))
        shuffled = float(loss([a], [a[torch.randperm(16)]]))
        assert aligned < shuffled

    def test_mismatched_parts_raise(self) -> None:
        with pytest.raises(ValueError):
            PartNTXentLoss()([torch.randn(2, 3)], [])
