"""Checks before ``fit --resume``: the checkpoint loads safely and the new config means the same run.

A resumed run continues the saved weights, optimiser and schedule; a config that changes what those weights mean
(method, backbone, image size, loss settings, batching) would silently train a different model under the old name,
so it is refused. Harmless changes (more epochs, a longer budget, other devices or workers) are allowed and
appended to ``RUN_DIR/resumes.jsonl`` so the run's history stays true.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from colorvariants.config import ConfigError, from_dict, to_dict
from colorvariants.io import atomic_open
from colorvariants.models.checkpoint import read_checkpoint
from colorvariants.models.registry import get_method
from colorvariants.outputs import is_worker_rank

RESUMES_FILE = "resumes.jsonl"
# Keys a resume may change: how long, where and how fast a run trains, not what it learns.
HARMLESS_KEYS = frozenset({
    "trainer.max_epochs", "trainer.max_minutes", "trainer.accelerator", "trainer.devices", "trainer.num_nodes",
    "trainer.strategy", "trainer.precision", "trainer.log_every_n_steps", "trainer.wandb", "trainer.wandb_project",
    "trainer.threads", "trainer.checkpoint_every_n_steps", "trainer.progress_bar",
    "trainer.check_val_every_n_epoch", "data.num_workers", "data.cache_dir", "data.cache_workers",
    "data.max_val_images", "model.pretrained",
})


def resolved_config(cfg: Any) -> dict[str, Any]:
    """A FitConfig as ``fit`` saves it in ``config.yaml``: the model section with the method's defaults filled in."""
    model = dict(cfg.model)
    model["image_size"] = cfg.data.image_size  # as fit() does: one source of truth for the input size
    try:
        method = get_method(cfg.method)
    except ValueError as exc:
        raise ConfigError(f"{exc}. Fix: set method: to one of them in the YAML.") from None
    model_cfg = from_dict(method.config_class, model, where="model.")
    return {"method": cfg.method, "model": to_dict(model_cfg), "data": to_dict(cfg.data),
            "trainer": to_dict(cfg.trainer)}


def check_resume(run_dir: str | Path, cfg: Any) -> dict[str, list[Any]]:
    """Refuse a resume whose config changes the run's meaning; return (and record) the harmless changes.

    Raises ``CheckpointError`` when ``last.ckpt`` cannot be loaded safely, ``ConfigError`` naming the keys that
    differ otherwise. A run without ``last.ckpt`` starts from scratch and is not checked.
    """
    run_dir = Path(run_dir)
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    if not ckpt.is_file():
        return {}
    state = read_checkpoint(ckpt)  # weights_only=True: a crafted pickle is a one-line CheckpointError
    new = _flat(resolved_config(cfg))
    saved = _saved_config(run_dir, state)
    changes = {k: [saved[k], new.get(k)] for k in sorted(saved) if saved[k] != new.get(k)}
    meaning = [k for k in changes if k not in HARMLESS_KEYS]
    if meaning:
        listed = "; ".join(f"{k}: {changes[k][0]!r} -> {changes[k][1]!r}" for k in meaning[:6])
        raise ConfigError(
            f"{run_dir}: --resume with a config that changes what the saved weights mean ({listed}). Fix: resume "
            "with the run's own settings (RUN_DIR/config.yaml), or train the new config into another --out."
        )
    if changes and not is_worker_rank():  # DDP ranks re-run the command; rank 0 records
        _record(run_dir, changes)
    return changes


def _saved_config(run_dir: Path, state: Mapping[str, Any]) -> dict[str, Any]:
    """The run's flat config: ``config.yaml``, with method and model from the checkpoint itself when present."""
    saved: dict[str, Any] = {}
    path = run_dir / "config.yaml"
    if path.is_file():
        try:
            saved = _flat(yaml.safe_load(path.read_text()) or {})
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc}). Fix: restore the run's config.yaml.") from exc
    hp = state.get("hyper_parameters") if isinstance(state, Mapping) else None
    if isinstance(hp, Mapping) and "method" in hp:
        saved = {k: v for k, v in saved.items() if not k.startswith("model.")}
        saved.update(_flat({"method": hp["method"], "model": to_dict(hp.get("config") or {})}))
    return saved


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return out


def _record(run_dir: Path, changes: dict[str, list[Any]]) -> None:
    """Append one line to ``RUN_DIR/resumes.jsonl`` (rewritten atomically: it is a few lines per run)."""
    path = run_dir / RESUMES_FILE
    old = path.read_text() if path.is_file() else ""
    line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "changed": changes}, default=str)
    with atomic_open(path, "w") as fh:
        fh.write(old + line + "\n")
