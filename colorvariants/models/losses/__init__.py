"""Loss functions, pure enough to test on hand-made inputs without a Trainer."""

from __future__ import annotations

from colorvariants.models.losses.part_ntxent import PartNTXentLoss
from colorvariants.models.losses.triplet import TripletLoss

__all__ = ["PartNTXentLoss", "TripletLoss"]
