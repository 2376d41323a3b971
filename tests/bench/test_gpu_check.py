"""The GPU check's CPU dry run (bench/gpu_check.py --dry-run): every check passes on the code path of the GPU
run, from the project's own wheel, with wandb unimportable (as on the device); and the loss verdict."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "bench" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


gpu_check = _load_gpu_check()


@pytest.mark.slow
def test_dry_run_passes_every_check_from_the_wheel_without_wandb(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(REPO)], check=True, capture_output=True, timeout=300)
    blocker = tmp_path / "no_wandb" / "wandb"  # `import wandb` fails, as on the GPU machine
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('wandb is not installed on the GPU machine')\n")
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": os.pathsep.join(
        [str(blocker.parent), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    env.pop("OUT", None)
    out = tmp_path / "out"
    proc = subprocess.run(["bash", str(REPO / "bench" / "gpu_check.sh"), "--dry-run", "--out", str(out),
                           "--wheels", str(wheels)], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    metrics = json.loads((out / "metrics.json").read_text())
    checks = metrics["checks"]
    assert list(checks) == [name for name, _ in gpu_check.plan()]
    assert {name: c["status"] for name, c in checks.items()} == {name: "ok" for name in checks}
    assert metrics["ok"] is True and metrics["profile"] == "dry-run"
    assert (out / "summary.txt").read_text().splitlines()[:len(checks)] == metrics["summary"][:len(checks)]

    install = checks["install"]
    assert install["installed"] is True and install["wheels"][0].startswith("colorvariants")
    env_check = checks["environment"]
    assert env_check["colorvariants"].startswith(checks["install"]["site"])  # imported from the wheel
    assert env_check["wandb_installed"] is False and env_check["requirements_unmet"] == []
    for method in gpu_check.METHODS:
        fit = checks[f"fit:{method}"]
        assert fit["precision"] == "32-true" and fit["steps"] >= 3 and isinstance(fit["falling"], bool)
        assert len(fit["losses"]) == fit["steps"] and all(math.isfinite(v) for v in fit["losses"])
        assert fit["images_per_second_steps"] > 0 and fit["images_per_second_train"] > 0
        assert fit["peak_memory_mib"] is None and fit["gpu_util_mean"] is None  # no GPU here
        ceiling = checks[f"ceiling:{method}"]
        assert ceiling["images_per_second"] > 0 and ceiling["batch_size"] == fit["batch_size"]
        assert ceiling["share_of_ceiling"] == pytest.approx(fit["images_per_second_steps"]
                                                           / ceiling["images_per_second"], rel=1e-2)
        embed = checks[f"embed:{method}"]
        assert embed["images"] == checks["catalog"]["test_images"] and 0.0 <= embed["recall@1"] <= 1.0
    assert checks["index"]["self_top1"] == 1.0 and checks["index"]["gpu"] is False


def test_loss_verdict_needs_finite_falling_losses() -> None:
    assert gpu_check.loss_verdict([3.0, 2.9, 2.5, 2.4, 2.0, 1.9])["last_loss"] == pytest.approx(1.95)
    with pytest.raises(gpu_check.CheckFailed, match="non-finite loss at step 2"):
        gpu_check.loss_verdict([3.0, 2.0, float("nan"), 1.0])
    with pytest.raises(gpu_check.CheckFailed, match="did not fall"):
        gpu_check.loss_verdict([1.0, 1.1, 1.2, 1.3, 1.4, 1.5])
    with pytest.raises(gpu_check.CheckFailed, match="no training step"):
        gpu_check.loss_verdict([])
    # The dry run reports a rising loss instead of failing on it; a NaN fails it all the same.
    assert gpu_check.loss_verdict([1.0, 1.1, 1.2, 1.3, 1.4, 1.5], judge_falling=False)["falling"] is False
    with pytest.raises(gpu_check.CheckFailed, match="non-finite"):
        gpu_check.loss_verdict([1.0, float("inf"), 1.2], judge_falling=False)


def test_loss_verdict_skips_a_memory_bank_warm_up() -> None:
    """MoCo's loss rises while its bank of random vectors fills with real keys; that warm-up is not judged."""
    rising_then_falling = [2.0, 3.0, 4.0, 5.0, 4.8, 4.6, 4.4, 4.2, 4.0]
    with pytest.raises(gpu_check.CheckFailed, match="did not fall"):
        gpu_check.loss_verdict(rising_then_falling)
    assert gpu_check.loss_verdict(rising_then_falling, warmup=3)["warmup_steps"] == 3


def test_warmup_is_one_bank_fill_for_mocov2_and_none_for_the_others() -> None:
    profile = gpu_check.PROFILES["gpu"]
    cfg = gpu_check.fit_config(profile, "mocov2", "unused")
    assert gpu_check.warmup_steps(cfg, 256) == 16  # 4096 negatives / 256 per step
    assert gpu_check.warmup_steps(gpu_check.fit_config(profile, "simclr", "unused"), 256) == 0
    triplet = gpu_check.fit_config(profile, "triplet", "unused")
    assert triplet.data.sampler == "pk" and gpu_check.step_batch_size(triplet) == profile.batch_size
    # The GPU run asks for bf16-mixed itself rather than relying on fit()'s default for the device.
    assert triplet.trainer.precision == "bf16-mixed" and triplet.trainer.accelerator == "gpu"
