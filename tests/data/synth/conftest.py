"""Shared fixtures: small synthetic catalogs written once per test session (64 px keeps them quick)."""

from __future__ import annotations

from pathlib import Path

import pytest

from colorvariants.data.synth import SynthConfig, write_synthetic_catalog

SMALL = SynthConfig(styles=40, seed=7, size=64)
CLEAN = SynthConfig(styles=12, seed=5, size=64, nuisance=False)


@pytest.fixture(scope="session")
def small_config() -> SynthConfig:
    """The config of ``small_catalog``."""
    return SMALL


@pytest.fixture(scope="session")
def small_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Manifest of a 40-style catalog with the default nuisance."""
    return write_synthetic_catalog(tmp_path_factory.mktemp("synth_small"), SMALL, progress=False)


@pytest.fixture(scope="session")
def clean_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Manifest of a 12-style catalog drawn without nuisance (canonical pose, plain white)."""
    return write_synthetic_catalog(tmp_path_factory.mktemp("synth_clean"), CLEAN, progress=False)
