"""Fit a method on a catalog: one function that both the CLI's ``fit`` and the benchmark call.

Lightning does the heavy lifting (DDP across GPUs and nodes, mixed precision, checkpoints, resume, progress);
this file wires our data module, method and run directory together and writes the portable ``model.pt``.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint, Timer
from pytorch_lightning.loggers import CSVLogger, Logger

from colorvariants.config import ConfigError, dump_yaml, to_dict
from colorvariants.data.catalog import Catalog
from colorvariants.data.datamodule import CatalogDataModule, DataConfig
from colorvariants.io import write_json, write_text
from colorvariants.models.callbacks import Throughput
from colorvariants.models.checkpoint import save_model
from colorvariants.models.choices import Precision
from colorvariants.models.registry import build_method


@dataclass
class TrainerConfig:
    """Lightning Trainer settings that a user may change from YAML or flags."""

    max_epochs: int | None = 10  # None: no epoch cap, only max_minutes ends training
    max_minutes: float | None = None  # wall-clock budget; whichever of epochs/minutes comes first
    accelerator: str = "auto"
    devices: Any = "auto"
    num_nodes: int = 1
    strategy: str = "auto"  # "ddp" for multi-GPU / multi-node
    # None: bf16-mixed on CUDA (16-mixed if no bf16) and on CPUs with native bf16 (AVX512-BF16 / AMX), else
    # 32-true. bf16 holds since convs over 1-pixel-wide maps skip oneDNN's conv (backbones.SmallMapConv2d).
    precision: str | None = None  # a choices.PRECISIONS value, or any other that Lightning accepts
    log_every_n_steps: int = 10
    wandb: bool = False
    wandb_project: str = "colorvariants"
    seed: int = 0
    threads: int | None = None  # torch intra-op threads on CPU (None: all cores)
    checkpoint_every_n_steps: int | None = None  # also refresh last.ckpt mid-epoch
    progress_bar: bool = True
    check_val_every_n_epoch: int = 1


@dataclass
class FitConfig:
    """A whole training run: which method, its settings, the data and the trainer."""

    method: str = "cvssl"
    model: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


@dataclass
class FitResult:
    """What a run produced and how fast: the numbers the benchmark reports."""

    run_dir: Path
    model_path: Path
    epochs: int
    train_seconds: float
    images_per_second: float
    val_metrics: dict[str, float]
    history: list[dict[str, float]]
    stopped_by: str = "epochs"  # which limit ended training: "epochs", "time" or "other" (e.g. a callback)
    adjustments: dict[str, Any] = field(default_factory=dict)  # settings the method changed to fit the data


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512-BF16 or AMX-BF16); elsewhere bf16 is emulated and slow.

    Asks torch's cpuinfo (any OS); falls back to Linux's /proc/cpuinfo flags, and to False when neither answers.
    """
    try:
        caps = torch._C._cpu._get_cpu_capability()
        return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))
    except (AttributeError, RuntimeError):  # a torch without the cpuinfo binding
        pass
    try:
        flags = set(Path("/proc/cpuinfo").read_text(errors="ignore").split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def _precision(cfg: TrainerConfig) -> Precision | str:
    """The Lightning precision of a run: the configured one, else the fastest this machine computes right."""
    if cfg.precision:
        return cfg.precision
    if torch.cuda.is_available() and cfg.accelerator in ("auto", "gpu", "cuda"):
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    if cfg.accelerator in ("auto", "cpu") and cpu_has_native_bf16():
        return "bf16-mixed"  # 1.8x the fp32 step of ResNet-18 at 64 px on 2 cores (BENCHMARKS.md "Training loop")
    return "32-true"


def _epoch_cap(cfg: TrainerConfig) -> int:
    """Lightning's ``max_epochs``: ``-1`` (unbounded) when only a time budget is given."""
    if cfg.max_epochs is not None:
        return int(cfg.max_epochs)
    if cfg.max_minutes:
        return -1
    raise ConfigError("trainer.max_epochs is null and trainer.max_minutes is not set: the run would never end. "
                      "Fix: give --max-epochs N or --max-minutes M (trainer.max_epochs / trainer.max_minutes).")


def _stopped_by(trainer: pl.Trainer, cfg: TrainerConfig) -> str:
    """Which limit ended training, for the report: the epoch cap, the time budget, or something else."""
    cap = _epoch_cap(cfg)
    if cap >= 0 and trainer.current_epoch >= cap:
        return "epochs"
    # Lightning's CallbackConnector sets Trainer.callbacks at runtime; the class does not declare it for mypy.
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)  # type: ignore[attr-defined]
    if timer is not None and (timer.time_remaining("train") or 0.0) <= 0.0:
        return "time"
    return "other"


def _loggers(cfg: TrainerConfig, run_dir: Path) -> list[Logger]:
    loggers: list[Logger] = [CSVLogger(save_dir=str(run_dir), name="logs", version="")]
    if cfg.wandb:
        has_credentials = bool(os.environ.get("WANDB_API_KEY")) or (Path.home() / ".netrc").exists()
        if os.environ.get("WANDB_MODE") is None and not has_credentials:
            os.environ["WANDB_MODE"] = "offline"  # never block on a network that is not there
        os.environ.setdefault("WANDB_INIT_TIMEOUT", "30")
        try:
            from pytorch_lightning.loggers import WandbLogger

            loggers.append(WandbLogger(project=cfg.wandb_project, save_dir=str(run_dir),
                                       offline=os.environ.get("WANDB_MODE") == "offline"))
        except Exception as exc:  # wandb missing or broken must never fail a run
            warnings.warn(f"wandb logging disabled: {exc}", stacklevel=2)
    return loggers


def last_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint a resumed run continues from, if any."""
    path = Path(run_dir) / "checkpoints" / "last.ckpt"
    return path if path.is_file() else None


def fit(cfg: FitConfig, catalog: Catalog, run_dir: str | Path, *, resume: bool = False,
        callbacks: list[pl.Callback] | None = None) -> FitResult:
    """Train ``cfg.method`` on the catalog's train split; validate recall@1 on its val split each epoch.

    With ``resume`` a killed run continues from ``RUN_DIR/checkpoints/last.ckpt``. Writes ``config.yaml``,
    Lightning checkpoints, ``logs/metrics.csv``, ``model.pt`` and ``summary.json`` under ``run_dir``.
    """
    tcfg = cfg.trainer
    max_epochs = _epoch_cap(tcfg)  # a run that would never end is refused before anything is written
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if tcfg.threads:
        torch.set_num_threads(int(tcfg.threads))
    pl.seed_everything(tcfg.seed, workers=True, verbose=False)
    model_cfg = dict(cfg.model)
    model_cfg["image_size"] = cfg.data.image_size  # one source of truth for the input size
    module = build_method(cfg.method, model_cfg)
    module.batch_size_hint = cfg.data.batch_size
    module.time_budget_s = tcfg.max_minutes * 60.0 if tcfg.max_minutes else None
    write_text(run_dir / "config.yaml", dump_yaml({"method": cfg.method, "model": to_dict(module.config),
                                                   "data": cfg.data, "trainer": tcfg}))
    if "split" not in catalog.frame.columns or (catalog.frame["split"] == "").any():
        catalog = catalog.assign_splits(seed=cfg.data.seed)
    datamodule = CatalogDataModule(catalog, cfg.data)

    throughput = Throughput()
    ckpt_dir = run_dir / "checkpoints"
    all_callbacks: list[pl.Callback] = [
        ModelCheckpoint(dirpath=str(ckpt_dir), filename="epoch={epoch}", auto_insert_metric_name=False,
                        save_last=True, save_top_k=1, every_n_epochs=1),
        throughput,
        *(callbacks or []),
    ]
    if tcfg.checkpoint_every_n_steps:
        all_callbacks.append(ModelCheckpoint(dirpath=str(ckpt_dir), filename="step", save_last=True, save_top_k=0,
                                         every_n_train_steps=int(tcfg.checkpoint_every_n_steps)))
    trainer = pl.Trainer(
        max_epochs=max_epochs,
        max_time=timedelta(minutes=tcfg.max_minutes) if tcfg.max_minutes else None,
        accelerator=tcfg.accelerator,
        devices=tcfg.devices,
        num_nodes=tcfg.num_nodes,
        strategy=tcfg.strategy,
        precision=_precision(tcfg),  # type: ignore[arg-type]
        logger=_loggers(tcfg, run_dir),
        callbacks=all_callbacks,
        log_every_n_steps=tcfg.log_every_n_steps,
        enable_progress_bar=tcfg.progress_bar,
        enable_model_summary=False,
        use_distributed_sampler=False,  # our batch samplers shard across ranks themselves
        check_val_every_n_epoch=tcfg.check_val_every_n_epoch,
        num_sanity_val_steps=0,
        default_root_dir=str(run_dir),
    )
    ckpt_path = last_checkpoint(run_dir) if resume else None
    if ckpt_path is not None:
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        print(f"resuming from {ckpt_path} (epoch {state.get('epoch')}, step {state.get('global_step')})", flush=True)
    elif resume:
        print(f"no checkpoint under {run_dir / 'checkpoints'}: starting from scratch", flush=True)
    start = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(ckpt_path) if ckpt_path else None)
    wall = time.perf_counter() - start
    val_metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    model_path = run_dir / "model.pt"
    result = FitResult(run_dir=run_dir, model_path=model_path, epochs=int(trainer.current_epoch),
                       train_seconds=throughput.train_seconds or wall,
                       images_per_second=throughput.images_per_second, val_metrics=val_metrics,
                       history=throughput.epochs, stopped_by=_stopped_by(trainer, tcfg),
                       adjustments=dict(module.adjustments))
    if trainer.is_global_zero:
        save_model(module, model_path, extra={"epochs": result.epochs})
        write_json(run_dir / "summary.json", {
            "method": cfg.method, "epochs": result.epochs, "train_seconds": result.train_seconds,
            "images_per_second": result.images_per_second, "val": val_metrics, "history": result.history,
            "stopped_by": result.stopped_by, "adjustments": result.adjustments,
        })
    return result
