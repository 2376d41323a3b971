"""MoCo v2's memory bank is capped below the training set, so an image is not a negative of itself; its key
encoder's momentum schedule."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from lightly.utils.scheduler import cosine_schedule

from colorvariants.data.catalog import Catalog
from colorvariants.data.datamodule import DataConfig
from colorvariants.models.mocov2 import capped_bank_size
from colorvariants.models.registry import build_method
from colorvariants.models.training import FitConfig, TrainerConfig, fit


def test_capped_bank_size() -> None:
    assert capped_bank_size(4096, 50_000, 256, 0.5) == 4096  # lightly's recipe on a large dataset: unchanged
    assert capped_bank_size(4096, 1388, 32, 0.5) == 672  # 694 -> whole steps of 32 keys
    assert capped_bank_size(4096, 1388, 32, None) == 4096  # cap switched off
    assert capped_bank_size(4096, 10, 32, 0.5) == 32  # never below one step of keys


def test_fit_caps_the_bank_and_reports_it(tiny_manifest: Path, tmp_path: Path) -> None:
    catalog = Catalog.load(tiny_manifest)
    cfg = FitConfig(method="mocov2", model={"memory_bank_size": 4096},
                    data=DataConfig(image_size=32, batch_size=16, cache_dir=str(tmp_path / "cache")),
                    trainer=TrainerConfig(max_epochs=1, progress_bar=False))
    result = fit(cfg, catalog, tmp_path / "run")
    adjusted = result.adjustments["model.memory_bank_size"]
    n_train = adjusted["train_images"]
    assert adjusted["requested"] == 4096 and 16 <= adjusted["used"] <= n_train / 2
    assert adjusted["used"] % 16 == 0


def test_momentum_counts_the_schedules_steps_once_per_fit() -> None:
    """The key encoder's momentum follows the cosine over the fit's steps; Lightning is asked for the step
    count once (when the optimiser is configured), not at every step."""
    asked = []

    class FakeTrainer(SimpleNamespace):
        @property
        def estimated_stepping_batches(self) -> int:
            asked.append(1)
            return 40

    module = build_method("mocov2", {"image_size": 32})
    module._trainer = FakeTrainer(max_epochs=4, global_step=0)
    module.configure_optimizers()
    counted = len(asked)
    for step in (0, 10, 39):
        module._trainer.global_step = step
        assert module.momentum() == pytest.approx(float(cosine_schedule(step, 40, 0.996, 1.0)))
    assert len(asked) == counted
