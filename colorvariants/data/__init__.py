"""Data stage: the catalog manifest, robust image loading, the decoded-image cache and the synthetic catalog."""

from __future__ import annotations

from colorvariants.data.catalog import Catalog
from colorvariants.data.problems import Problem

__all__ = ["Catalog", "Problem"]
