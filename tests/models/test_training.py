"""fit(): checkpoints that load safely, the portable model file, and resuming a killed run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from colorvariants.data.cache import ImageCache
from colorvariants.data.catalog import Catalog
from colorvariants.data.datamodule import DataConfig
from colorvariants.errors import CheckpointError
from colorvariants.models.checkpoint import load_model, read_checkpoint
from colorvariants.models.training import FitConfig, TrainerConfig, fit

ROOT = Path(__file__).resolve().parents[2]


def _quick_cfg(method: str, tmp: Path, epochs: int = 1) -> FitConfig:
    return FitConfig(method=method, model={"memory_bank_size": 64} if method == "mocov2" else {},
                     data=DataConfig(image_size=32, batch_size=16, cache_dir=str(tmp / "cache"),
                                     sampler="pk" if method == "triplet" else "random", pk_p=4, pk_k=4),
                     trainer=TrainerConfig(max_epochs=epochs, progress_bar=False))


@pytest.mark.parametrize("method", ["triplet", "simclr", "mocov2", "cvssl"])
def test_checkpoints_load_with_weights_only_and_reproduce_embeddings(method: str, tiny_manifest: Path,
                                                                     tmp_path: Path) -> None:
    catalog = Catalog.load(tiny_manifest)
    result = fit(_quick_cfg(method, tmp_path), catalog, tmp_path / "run")
    for path in [result.model_path, tmp_path / "run" / "checkpoints" / "last.ckpt"]:
        payload = torch.load(path, map_location="cpu", weights_only=True)  # must not raise
        assert "state_dict" in payload
    images = torch.from_numpy(np.asarray(ImageCache.build(catalog, 32, tmp_path / "cache", progress=False)
                                         .images[:6])).permute(0, 3, 1, 2)
    from_model_pt = load_model(result.model_path).embed(images)
    from_ckpt = load_model(tmp_path / "run" / "checkpoints" / "last.ckpt").embed(images)
    assert torch.allclose(from_model_pt, from_ckpt, atol=1e-5)
    assert torch.allclose(from_model_pt.norm(dim=1), torch.ones(6), atol=1e-4)
    assert (tmp_path / "run" / "config.yaml").is_file() and (tmp_path / "run" / "logs" / "metrics.csv").is_file()


def test_untrusted_checkpoint_is_refused_without_running_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "colorvariants.model", "payload": Evil()}, path)
    with pytest.raises(CheckpointError, match="weights_only"):
        read_checkpoint(path)
    assert not marker.exists()


def test_missing_checkpoint_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="model.pt"):
        load_model(tmp_path / "nope.pt")


@pytest.mark.slow
@pytest.mark.faults
def test_killed_fit_resumes_from_last_checkpoint(tiny_manifest: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "colorvariants", "fit", "--config", str(ROOT / "configs" / "simclr.yaml"),
           "--manifest", str(tiny_manifest), "--out", str(run_dir), "--max-epochs", "4", "--image-size", "32",
           "--batch-size", "16", "--cache-dir", str(tmp_path / "cache"), "trainer.checkpoint_every_n_steps=2",
           "trainer.progress_bar=false"]
    env = {**os.environ, "WANDB_MODE": "offline"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    killed_at = None
    while time.time() < deadline and proc.poll() is None:
        if last.is_file():
            state = torch.load(last, map_location="cpu", weights_only=True)
            if state["epoch"] >= 1:  # mid-run: at least one epoch done, more to go
                os.killpg(proc.pid, signal.SIGKILL)
                killed_at = state
                break
        time.sleep(0.2)
    proc.wait(timeout=60)
    assert killed_at is not None, "the run finished before it could be killed; " + proc.stdout.read().decode()[-2000:]
    assert not (run_dir / "model.pt").exists()

    out = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "resuming from" in out.stdout
    final = torch.load(last, map_location="cpu", weights_only=True)
    resumed_from = int(read_checkpoint(last)["global_step"])
    assert final["epoch"] >= 3 and resumed_from > int(killed_at["global_step"])
    assert (run_dir / "model.pt").is_file()


def test_a_time_budget_alone_is_not_capped_by_epochs(tiny_manifest: Path, tmp_path: Path) -> None:
    """With only max_minutes, time ends training (not an epoch cap) and the result says so; the schedules
    still work without a known step count."""
    cfg = _quick_cfg("mocov2", tmp_path)
    cfg.trainer = TrainerConfig(max_epochs=None, max_minutes=0.1, progress_bar=False)
    result = fit(cfg, Catalog.load(tiny_manifest), tmp_path / "run")
    assert result.stopped_by == "time"
    assert result.epochs >= 1 and np.isfinite([r["seconds"] for r in result.history]).all()

    capped = _quick_cfg("simclr", tmp_path, epochs=1)
    capped.trainer.max_minutes = 10.0
    assert fit(capped, Catalog.load(tiny_manifest), tmp_path / "run2").stopped_by == "epochs"


def test_no_epoch_cap_and_no_time_budget_is_refused(tiny_manifest: Path, tmp_path: Path) -> None:
    from colorvariants.errors import ColorVariantsError

    cfg = _quick_cfg("simclr", tmp_path)
    cfg.trainer.max_epochs = None
    with pytest.raises(ColorVariantsError, match="never end.*--max-minutes"):
        fit(cfg, Catalog.load(tiny_manifest), tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before anything is written


def test_fit_cli_time_budget_alone_drops_the_yaml_epoch_cap() -> None:
    from colorvariants.cli.commands.fit import build_fit_config
    from colorvariants.cli.main import build_parser

    def parse(*flags: str) -> FitConfig:
        return build_fit_config(build_parser().parse_args(
            ["fit", "--config", str(ROOT / "configs" / "simclr.yaml"), "--manifest", "m", "--out", "o", *flags]))

    assert parse("--max-minutes", "2").trainer.max_epochs is None
    assert parse().trainer.max_epochs == 10
    assert parse("--max-minutes", "2", "--max-epochs", "4").trainer.max_epochs == 4
    assert parse("--max-minutes", "2", "trainer.max_epochs=7").trainer.max_epochs == 7


@pytest.mark.parametrize("native_bf16, expected", [(True, "bf16-mixed"), (False, "32-true")])
def test_cpu_precision_is_bf16_only_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch, native_bf16: bool,
                                                         expected: str) -> None:
    import colorvariants.models.training as training

    monkeypatch.setattr(training.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(training, "cpu_has_native_bf16", lambda: native_bf16)
    assert training._precision(TrainerConfig()) == expected
    assert training._precision(TrainerConfig(precision="32-true")) == "32-true"  # an explicit choice wins


def test_cpu_bf16_detection_agrees_with_the_cpu_flags() -> None:
    from colorvariants.models.training import cpu_has_native_bf16

    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo to compare with")
    flags = set(cpuinfo.read_text(errors="ignore").split())
    assert cpu_has_native_bf16() == bool(flags & {"avx512_bf16", "amx_bf16"})
