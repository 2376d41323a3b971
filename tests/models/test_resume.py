"""``fit --resume`` checks: the saved run and the new config must mean the same model; harmless changes recorded."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml

from colorvariants.config import ConfigError
from colorvariants.data.datamodule import DataConfig
from colorvariants.errors import CheckpointError
from colorvariants.models.resume import RESUMES_FILE, check_resume, resolved_config
from colorvariants.models.training import FitConfig, TrainerConfig


def _cfg(method: str = "cvssl", image_size: int = 32, epochs: int = 1, **model: object) -> FitConfig:
    return FitConfig(method=method, model=dict(model), data=DataConfig(image_size=image_size, batch_size=16),
                     trainer=TrainerConfig(max_epochs=epochs))


def _run_dir(tmp: Path, cfg: FitConfig) -> Path:
    """A run folder as a fit that checkpointed leaves it: config.yaml and last.ckpt with its hyper-parameters."""
    run = tmp / "run"
    (run / "checkpoints").mkdir(parents=True)
    saved = resolved_config(cfg)
    (run / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))
    torch.save({"state_dict": {}, "epoch": 1,
                "hyper_parameters": {"method": saved["method"], "config": saved["model"]}},
               run / "checkpoints" / "last.ckpt")
    return run


def test_another_method_is_refused(tmp_path: Path) -> None:
    run = _run_dir(tmp_path, _cfg("cvssl"))
    with pytest.raises(ConfigError, match=r"method: 'cvssl' -> 'triplet'.*Fix: .*another --out"):
        check_resume(run, _cfg("triplet"))


def test_another_image_size_or_loss_setting_is_refused(tmp_path: Path) -> None:
    run = _run_dir(tmp_path, _cfg())
    with pytest.raises(ConfigError, match=r"data.image_size: 32 -> 48.*model.temperature: 0.2 -> 0.5"):
        check_resume(run, _cfg(image_size=48, temperature=0.5))
    assert not (run / RESUMES_FILE).exists()


def test_more_epochs_and_a_longer_budget_are_allowed_and_recorded(tmp_path: Path) -> None:
    run = _run_dir(tmp_path, _cfg())
    new = _cfg(epochs=5)
    new = replace(new, trainer=replace(new.trainer, max_minutes=10.0))
    changed = check_resume(run, new)
    assert changed == {"trainer.max_epochs": [1, 5], "trainer.max_minutes": [None, 10.0]}
    record = json.loads((run / RESUMES_FILE).read_text().splitlines()[-1])
    assert record["changed"] == changed
    assert check_resume(run, _cfg()) == {}  # the run's own settings: nothing to record


def test_a_crafted_pickle_is_a_one_line_error(tmp_path: Path) -> None:
    run = _run_dir(tmp_path, _cfg())
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {marker}",))

    torch.save({"state_dict": {}, "x": Evil()}, run / "checkpoints" / "last.ckpt")
    with pytest.raises(CheckpointError, match=r"last.ckpt: cannot be loaded safely"):
        check_resume(run, _cfg())
    assert not marker.exists()


def test_a_run_without_a_checkpoint_starts_fresh_unchecked(tmp_path: Path) -> None:
    assert check_resume(tmp_path / "new-run", _cfg("triplet")) == {}
