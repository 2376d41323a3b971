"""Shared fixtures: small synthetic catalogs generated once per session (the project makes its own data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 styles at 48 px with masks and bboxes: enough for every stage to run in seconds."""
    from colorvariants.data.synth import SynthConfig, write_synthetic_catalog

    out = tmp_path_factory.mktemp("tiny_catalog")
    return write_synthetic_catalog(out, SynthConfig(styles=24, seed=3, size=48), progress=False)


@pytest.fixture(scope="session")
def small_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """80 styles at 64 px: big enough for recall@1 to move when a method learns."""
    from colorvariants.data.synth import SynthConfig, write_synthetic_catalog

    out = tmp_path_factory.mktemp("small_catalog")
    return write_synthetic_catalog(out, SynthConfig(styles=80, seed=5, size=64), progress=False)
