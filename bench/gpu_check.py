"""GPU check: proves the training, embedding and index paths on one GPU and measures them, in one short run.

Written for a lent GPU machine (minutes of device time, nothing downloadable there). From the repository root:

    make gpu-wheels                       # here, with network: the wheels the device lacks, into .gpu-wheels/
    bash bench/gpu_check.sh               # there: installs .gpu-wheels/*.whl in a temporary folder, runs
    bash bench/gpu_check.sh --dry-run     # anywhere: the same code on the CPU at tiny sizes (a test runs it)

Every check below runs isolated (one that fails does not stop the others) and ends as one summary line, ``ok``
or ``FAILED: reason``; ``metrics.json`` and ``summary.txt`` go to ``--out``, else ``$OUT`` when set, else
``runs/gpu_check/``. Scratch files (catalog, caches, runs) live in a temporary folder, deleted at the end.

- ``install``: the carried wheels (``--wheels``, default ``.gpu-wheels`` when present) installed with
  ``pip install --no-index --no-deps --target TMP``; the script then re-runs itself with TMP first on
  PYTHONPATH, so the project and its missing dependencies come from the wheels.
- ``environment``: nvidia-smi, versions, the GPU; every requirement of the installed project met (wandb may be
  absent: it is imported only with ``--wandb``); on the GPU profile, a CUDA device must be there.
- ``catalog``: the synthetic catalog (300 styles at 128 px on the GPU profile).
- ``fit:<method>`` for triplet, simclr, mocov2, cvssl: ``colorvariants.models.training.fit`` for a fixed
  number of epochs in the profile's precision (bf16-mixed on the GPU) with a GPU-sized batch; every step's
  loss must be finite and the loss must fall (mean of the last third of the steps below the first third's,
  after MoCo's memory bank has been filled once; on the dry run this is reported, not judged).
  Records images/s (``Throughput``: first epoch excluded; also without the in-epoch validation pass; and
  between each epoch's first and last step), peak GPU memory and GPU utilisation (sampled in a thread).
- ``ceiling:<method>``: the model alone: the method's own ``compute_loss`` with its views made once (random
  uint8 batch) and reused, backward and optimiser step, same batch and precision. The fit's images/s between
  steps over this ceiling is the data path's share (target: at least 85%); over whole epochs, also reported.
- ``embed:<method>``: ``embed_catalog`` of the test split with the trained model, then
  ``evaluate_embeddings``.
- ``index``: ``build_index(kind="auto")`` over the last embedding set (GPU FAISS when faiss sees a GPU),
  saved, loaded back, and every vector must find itself first.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/: _common.py, gpu_check_measure.py

from gpu_check_measure import (  # noqa: E402
    UtilisationSampler,
    callback_classes,
    frozen_views,
    peak_memory,
    random_batch,
)

METHODS = ("triplet", "simclr", "mocov2", "cvssl")
SHARE_TARGET = 0.85  # the issue: the data path must keep the fit at >= 85% of the model-only ceiling
INSTALL_ENV = "GPU_CHECK_INSTALL"  # the parent's install record, handed to the re-run child


@dataclass(frozen=True)
class Profile:
    """Sizes and settings of one run: ``gpu`` is the real check, ``dry-run`` the same code on a CPU."""

    styles: int
    size: int  # synthetic images and training input, pixels
    batch_size: int  # images per step (triplet: PK batches of batch_size // 4 styles x 4)
    epochs: int  # fixed budget per method; validation runs once, in the last epoch
    max_minutes: float | None  # safety cap per fit
    precision: str
    accelerator: str
    ceiling_reps: int
    embed_batch: int
    synth_workers: int
    cache_workers: int
    budget_minutes: float  # checks not started by then are reported FAILED (over budget)
    judge_falling: bool = True  # a fit whose loss does not fall fails (else the verdict is only reported)
    threads: int | None = None  # torch intra-op threads (None: torch's default)
    overrides: tuple[tuple[str, str], ...] = ()  # (method, "key=value") on top of the benchmark's row


PROFILES: dict[str, Profile] = {
    # One H100: ~1100 training images, 4 steps of 256 an epoch; the whole run must end inside 8 minutes.
    # Four fits of at most a minute each; checks not started by minute 6.5 are reported as skipped.
    "gpu": Profile(styles=300, size=128, batch_size=256, epochs=30, max_minutes=1.0, precision="bf16-mixed",
                   accelerator="gpu", ceiling_reps=20, embed_batch=512,
                   synth_workers=min(16, os.cpu_count() or 1), cache_workers=8, budget_minutes=6.5),
    # Two CPU cores in CI: same path, tiny sizes, fp32 (the CPU default precision). Over ~10 steps of 8 images
    # the loss is mostly augmentation noise, so whether it falls is reported, not judged (finiteness is).
    # MoCo's bank shrinks to 4 batches so that it holds real keys within those steps. No time cap: the number
    # of steps must not depend on how busy the CPU is. One thread: a second one waits for a busy core at every
    # operator (on 2 shared cores a 16-image step of ResNet-18 at 32 px took 7 s with 2 threads).
    "dry-run": Profile(styles=12, size=32, batch_size=8, epochs=2, max_minutes=None, precision="32-true",
                       accelerator="cpu", ceiling_reps=1, embed_batch=64, synth_workers=1, cache_workers=1,
                       budget_minutes=60.0, judge_falling=False, threads=1,
                       overrides=(("mocov2", "model.memory_bank_size=32"),)),
}


@dataclass
class CheckResult:
    """One check's outcome: ``ok`` or the reason it failed, its seconds and its figures."""

    name: str
    ok: bool
    reason: str | None
    seconds: float
    figures: dict[str, Any]

    def line(self) -> str:
        status = "ok" if self.ok else f"FAILED: {self.reason}"
        brief = ", ".join(f"{k} {_fmt(v)}" for k, v in self.figures.items() if k in BRIEF_KEYS)
        return f"{self.name:<16} {status}" + (f" ({brief})" if brief and self.ok else "")


BRIEF_KEYS = ("device", "images", "steps", "first_loss", "last_loss", "images_per_second_steps",
              "peak_memory_mib", "gpu_util_mean", "images_per_second", "share_of_ceiling", "recall@1",
              "kind", "gpu", "self_top1")


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


class CheckFailed(Exception):
    """A check's own verdict (an assertion about behaviour), as opposed to a crash; may carry its figures."""

    def __init__(self, reason: str, figures: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.figures = figures or {}


# -- the carried wheels --------------------------------------------------------------------------------------
def install_wheels(wheels: Path) -> dict[str, Any]:
    """``pip install --no-index --no-deps --target TMP`` of every wheel in ``wheels``; returns the record."""
    files = sorted(wheels.glob("*.whl"))
    if not files:
        raise CheckFailed(f"no wheels in {wheels}; run `make gpu-wheels` on a machine with network")
    site = Path(tempfile.mkdtemp(prefix="gpu_check_site_"))
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
           "--no-cache-dir", "--disable-pip-version-check", "--target", str(site), *map(str, files)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise CheckFailed(f"pip install failed: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")
    return {"site": str(site), "wheels": [f.name for f in files], "seconds": time.perf_counter() - start,
            "megabytes": round(sum(f.stat().st_size for f in files) / 2**20, 1)}


def install_then_rerun(args: argparse.Namespace, argv: list[str]) -> None:
    """Install the wheels, then re-run this command in a new process image with their folder on PYTHONPATH."""
    start = time.perf_counter()
    try:
        record = {"ok": True, **install_wheels(args.wheels)}
    except Exception as exc:  # the run goes on with what is installed; the install check reports the failure
        record = {"ok": False, "reason": f"{type(exc).__name__}: {exc}",
                  "seconds": time.perf_counter() - start}
    env = dict(os.environ)
    env[INSTALL_ENV] = json.dumps(record)
    if record.get("site"):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (record["site"], env.get("PYTHONPATH", "")) if p)
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, str(Path(__file__).resolve()), *argv, "--no-install"], env)


def import_project() -> None:
    """Import colorvariants from the installed wheel or environment; the source tree only as a fallback."""
    try:
        import colorvariants  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(REPO))


# -- the checks ----------------------------------------------------------------------------------------------
@dataclass
class Context:
    """What the checks share: the profile, folders, and what earlier checks produced."""

    profile: Profile
    profile_name: str
    work: Path
    deadline: float
    catalog: Any = None
    fits: dict[str, Any] | None = None
    embeddings: dict[str, Any] | None = None

    @property
    def cache_dir(self) -> str:
        return str(self.work / "cache")

    def require(self, attr: str, what: str) -> Any:
        value = getattr(self, attr)
        if not value:
            raise CheckFailed(f"skipped: needs {what}, which failed")
        return value


def check_install(ctx: Context) -> dict[str, Any]:
    record = json.loads(os.environ.get(INSTALL_ENV, "null"))
    if record is None:
        return {"installed": False, "note": "no wheels installed (--no-install, or none carried)"}
    if not record.get("ok"):
        raise CheckFailed(record.get("reason", "install failed"))
    return {"installed": True, "wheels": record["wheels"], "megabytes": record["megabytes"],
            "seconds": round(record["seconds"], 1), "site": record["site"]}


def _requirements() -> list[str]:
    """The project's declared dependencies: the installed distribution's, else pyproject.toml's."""
    import importlib.metadata as md

    try:
        reqs = md.requires("colorvariants")
    except md.PackageNotFoundError:
        reqs = None
    if reqs is None:
        import tomllib

        reqs = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return list(reqs)


def unmet_requirements(optional: tuple[str, ...] = ("wandb",)) -> tuple[list[str], list[str]]:
    """(unmet requirements, absent optional-at-run-time ones) of the project in this environment."""
    import importlib.metadata as md

    from packaging.requirements import Requirement

    unmet, absent = [], []
    for text in _requirements():
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            version = md.version(req.name)
        except md.PackageNotFoundError:
            (absent if req.name in optional else unmet).append(f"{req} (not installed)")
            continue
        if not req.specifier.contains(version, prereleases=True):
            unmet.append(f"{req} (found {version})")
    return unmet, absent


def check_environment(ctx: Context) -> dict[str, Any]:
    import faiss
    import lightly
    import numpy
    import pytorch_lightning as pl
    import pytorch_metric_learning
    import torch
    import torchvision

    import colorvariants
    from colorvariants.retrieval.index import gpu_count

    smi = shutil.which("nvidia-smi")
    smi_text = subprocess.run([smi], capture_output=True, text=True, timeout=30).stdout if smi else ""
    if smi_text:
        print(smi_text, flush=True)
    cuda = torch.cuda.is_available()
    unmet, absent = unmet_requirements()
    figures: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "gpu_memory_mib": round(torch.cuda.get_device_properties(0).total_memory / 2**20) if cuda else None,
        "bf16_supported": bool(cuda and torch.cuda.is_bf16_supported()),
        "capability": ".".join(map(str, torch.cuda.get_device_capability(0))) if cuda else None,
        "torchvision": torchvision.__version__, "pytorch_lightning": pl.__version__,
        "lightly": lightly.__version__, "pytorch_metric_learning": pytorch_metric_learning.__version__,
        "faiss": faiss.__version__, "faiss_gpus": gpu_count(), "numpy": numpy.__version__,
        "colorvariants": str(Path(colorvariants.__file__).parent),
        "wandb_installed": _importable("wandb"),
        "requirements_absent_optional": absent, "requirements_unmet": unmet,
        "cpu_count": os.cpu_count(), "nvidia_smi": smi_text,
    }
    print(json.dumps({k: v for k, v in figures.items() if k != "nvidia_smi"}, indent=1), flush=True)
    if ctx.profile.accelerator == "gpu" and not cuda:
        raise CheckFailed("torch sees no CUDA device", figures)
    if unmet:
        raise CheckFailed(f"unmet requirements: {'; '.join(unmet)}", figures)
    stale = differs_from_tree(Path(colorvariants.__file__).parent)
    if stale:
        raise CheckFailed(f"the installed colorvariants differs from the working tree ({', '.join(stale[:3])}"
                          f"{'...' if len(stale) > 3 else ''}); rebuild it with `make gpu-wheels`", figures)
    return figures


def _importable(name: str) -> bool:
    """Whether ``import name`` works (an import, not a lookup: a broken or blocked package is absent)."""
    import importlib

    try:
        importlib.import_module(name)
        return True
    except Exception:
        return False


def differs_from_tree(package: Path, tree: Path = REPO / "colorvariants") -> list[str]:
    """Source files of the imported package that differ from the working tree's (a stale carried wheel)."""
    if not tree.is_dir() or package.resolve() == tree.resolve():
        return []
    ours = {f.relative_to(tree) for f in tree.rglob("*.py")}
    theirs = {f.relative_to(package) for f in package.rglob("*.py")}
    return sorted(str(f) for f in ours ^ theirs) + sorted(
        str(f) for f in ours & theirs if (tree / f).read_bytes() != (package / f).read_bytes())


def check_catalog(ctx: Context) -> dict[str, Any]:
    from colorvariants.data.catalog import Catalog
    from colorvariants.data.synth import SynthConfig, write_synthetic_catalog

    p = ctx.profile
    manifest = write_synthetic_catalog(ctx.work / "synth", SynthConfig(styles=p.styles, seed=0, size=p.size),
                                       workers=p.synth_workers, progress=False)
    ctx.catalog = Catalog.load(manifest)
    split = ctx.catalog.frame["split"].value_counts().to_dict()
    return {"images": len(ctx.catalog), "styles": p.styles, "size": p.size, **{f"{k}_images": int(v)
                                                                              for k, v in split.items()}}


def fit_config(p: Profile, method: str, cache_dir: str) -> Any:
    """The method's FitConfig: the benchmark's row for it (triplet: PK batches) at this profile's sizes."""
    from colorvariants.config import apply_overrides, from_dict, to_dict
    from colorvariants.data.datamodule import DataConfig
    from colorvariants.models.training import FitConfig, TrainerConfig
    from colorvariants.report.benchmark import VARIANTS

    data = {
        "method": method,
        "data": to_dict(DataConfig(image_size=p.size, batch_size=p.batch_size, cache_dir=cache_dir,
                                   cache_workers=p.cache_workers)),
        "trainer": to_dict(TrainerConfig(max_epochs=p.epochs, max_minutes=p.max_minutes,
                                         accelerator=p.accelerator, devices=1, precision=p.precision,
                                         progress_bar=False, check_val_every_n_epoch=p.epochs,
                                         log_every_n_steps=5, threads=p.threads)),
        "model": {},
    }
    pk_k = DataConfig().pk_k
    overrides = [*VARIANTS[method].overrides, f"data.pk_p={max(1, p.batch_size // pk_k)}",
                 *(text for m, text in p.overrides if m == method)]
    return from_dict(FitConfig, apply_overrides(data, overrides))


def loss_verdict(losses: list[float], warmup: int = 0, judge_falling: bool = True) -> dict[str, Any]:
    """Finite at every step, and falling after ``warmup`` steps: the mean of the last third of the remaining
    steps below the first third's. Raises ``CheckFailed`` otherwise (falling only with ``judge_falling``)."""
    if not losses:
        raise CheckFailed("no training step ran")
    bad = [i for i, v in enumerate(losses) if not math.isfinite(v)]
    if bad:
        raise CheckFailed(f"non-finite loss at step {bad[0]} of {len(losses)} (value {losses[bad[0]]})")
    judged = losses[warmup:]
    if len(judged) < 3:
        raise CheckFailed(f"too few steps to judge the loss: {len(losses)}, {warmup} of them warm-up")
    third = len(judged) // 3
    first, last = statistics.fmean(judged[:third]), statistics.fmean(judged[-third:])
    figures = {"steps": len(losses), "warmup_steps": warmup, "first_loss": round(first, 4),
               "last_loss": round(last, 4), "falling": last < first, "losses": [round(v, 5) for v in losses]}
    if judge_falling and not last < first:
        raise CheckFailed(f"loss did not fall: first third {first:.4f}, last third {last:.4f} "
                          f"(steps {warmup} to {len(losses)})")
    return figures


def warmup_steps(cfg: Any, batch_size: int) -> int:
    """Steps before the loss is comparable: a memory bank (MoCo) starts as random vectors, which give a lower
    loss than real keys, so the loss rises until the bank has been filled once; other methods need none."""
    from colorvariants.config import from_dict
    from colorvariants.models.registry import get_method

    model_cfg = from_dict(get_method(cfg.method).config_class, cfg.model)
    return math.ceil(getattr(model_cfg, "memory_bank_size", 0) / batch_size)


def check_fit(ctx: Context, method: str) -> dict[str, Any]:
    from colorvariants.models.training import fit

    from _common import EpochExtras

    catalog = ctx.require("catalog", "the catalog")
    cfg = fit_config(ctx.profile, method, ctx.cache_dir)
    loss_trace, step_clock = callback_classes()
    trace, clock, extras = loss_trace(), step_clock(), EpochExtras()
    batch_size = step_batch_size(cfg)
    figures: dict[str, Any] = {"precision": cfg.trainer.precision, "sampler": cfg.data.sampler,
                               "batch_size": batch_size}
    start = time.perf_counter()
    with UtilisationSampler() as sampler, peak_memory(figures):
        result = fit(cfg, catalog, ctx.work / "runs" / method, callbacks=[trace, clock, extras])
    figures.update(sampler.figures(), wall_seconds=round(time.perf_counter() - start, 1),
                   epochs=result.epochs, images_per_second=round(result.images_per_second, 1),
                   val=result.val_metrics)
    history = result.history
    timed = range(1, len(history)) if len(history) > 1 else range(len(history))
    images = sum(history[i]["images"] for i in timed)
    validation = extras.by_epoch + [0.0] * len(history)
    seconds = sum(history[i]["seconds"] - validation[i] for i in timed)
    figures["images_per_second_train"] = round(images / seconds, 1) if seconds > 0 else 0.0
    figures["validation_seconds"] = [round(s, 2) for s in extras.by_epoch]
    figures["images_per_second_steps"] = round(clock.images_per_second, 1)
    # Recorded before the verdict: the ceiling and the embedding still run on a fit whose loss failed it.
    ctx.fits = {**(ctx.fits or {}), method: {"result": result, "figures": figures, "config": cfg}}
    try:
        figures.update(loss_verdict(trace.losses, warmup_steps(cfg, batch_size), ctx.profile.judge_falling))
    except CheckFailed as exc:
        raise CheckFailed(str(exc), {**figures, "losses": trace.losses}) from None
    return figures


def step_batch_size(cfg: Any) -> int:
    """Images per training step: the batch size, or P x K for PK batches."""
    return cfg.data.pk_p * cfg.data.pk_k if cfg.data.sampler == "pk" else cfg.data.batch_size


def check_ceiling(ctx: Context, method: str) -> dict[str, Any]:
    import torch

    from colorvariants.models.optim import build_optimizer
    from colorvariants.models.registry import build_method

    from _common import time_steps

    p = ctx.profile
    cfg = fit_config(p, method, ctx.cache_dir)
    b = step_batch_size(cfg)
    device = torch.device("cuda" if p.accelerator == "gpu" and torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    # As fit() trains it: the method's own module (inputs go channels_last in its _prep, weights as built).
    module = build_method(cfg.method, {**cfg.model, "image_size": cfg.data.image_size}).to(device)
    module.train()
    params = [q for q in module.parameters() if q.requires_grad]
    optimizer = build_optimizer(params, module.config.optimizer, b)
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(cfg.trainer.precision)
    masks = ctx.catalog.has_masks() if ctx.catalog is not None else True
    batch = random_batch(b, cfg.data.image_size, masks, cfg.data.pk_k, device)

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss, _ = module.compute_loss(batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    figures: dict[str, Any] = {"batch_size": b, "precision": cfg.trainer.precision, "reps": p.ceiling_reps}
    with frozen_views(module, batch), peak_memory(figures):
        times = time_steps(step, p.ceiling_reps, device)
    median = statistics.median(times)
    figures.update(step_seconds_median=round(median, 5), images_per_second=round(b / median, 1))
    fit = (ctx.fits or {}).get(method)
    if fit is not None:  # the steps' rate is the data path's; the epochs' adds Lightning's per-epoch work
        share = fit["figures"]["images_per_second_steps"] / figures["images_per_second"]
        figures.update(share_of_ceiling=round(share, 3), share_target=SHARE_TARGET,
                       meets_target=bool(share >= SHARE_TARGET),
                       share_of_ceiling_epochs=round(fit["figures"]["images_per_second_train"]
                                                     / figures["images_per_second"], 3))
    return figures


def check_embed(ctx: Context, method: str) -> dict[str, Any]:
    from colorvariants.data.cache import ImageCache
    from colorvariants.retrieval.embed import EmbedConfig, embed_catalog
    from colorvariants.retrieval.evaluate import evaluate_embeddings

    p = ctx.profile
    fits = ctx.require("fits", "a fit")
    if method not in fits:
        raise CheckFailed(f"skipped: needs fit:{method}, which failed")
    test = ctx.catalog.split("test")
    ImageCache.build(test, p.size, ctx.cache_dir, progress=False)  # decoding is not the embedding's speed
    cfg = EmbedConfig(batch_size=p.embed_batch, accelerator=p.accelerator, devices=1, precision=p.precision,
                      cache_dir=ctx.cache_dir, progress=False)
    figures: dict[str, Any] = {}
    start = time.perf_counter()
    with peak_memory(figures):
        es = embed_catalog(fits[method]["result"].model_path, test, ctx.work / "embeddings" / method, cfg)
    seconds = time.perf_counter() - start
    metrics = evaluate_embeddings(es, split="test")
    ctx.embeddings = {**(ctx.embeddings or {}), method: es}
    figures.update(images=es.count, dim=es.dim, seconds=round(seconds, 2),
                   images_per_second=round(es.count / seconds, 1),
                   **{k: round(float(v), 4) for k, v in metrics.items() if k.startswith(("recall@", "map@"))},
                   n_queries=int(metrics["n_queries"]))
    return figures


def check_index(ctx: Context) -> dict[str, Any]:
    import faiss
    import numpy as np

    from colorvariants.retrieval.index import build_index, gpu_count, load_index

    embeddings = ctx.require("embeddings", "an embedding set")
    method, es = list(embeddings.items())[-1]
    start = time.perf_counter()
    bundle = build_index(es, kind="auto")
    build_seconds = time.perf_counter() - start
    bundle.save(ctx.work / "index")
    loaded = load_index(ctx.work / "index", expected_dim=es.dim)
    vectors = np.asarray(es.vectors, dtype=np.float32)
    _, rows = loaded.search(vectors, 1)
    self_top1 = float(np.mean(rows[:, 0] == np.arange(len(vectors))))
    figures = {"embeddings_of": method, "kind": bundle.meta["kind"], "gpu": bool(bundle.meta.get("gpu")),
               "faiss": faiss.__version__, "faiss_gpus": gpu_count(), "count": loaded.count,
               "build_seconds": round(build_seconds, 3), "self_top1": round(self_top1, 4)}
    if self_top1 < 0.99:
        raise CheckFailed(f"only {self_top1:.1%} of the vectors find themselves first in the loaded index")
    return figures


def plan() -> list[tuple[str, Callable[[Context], dict[str, Any]]]]:
    """Every check in order: the fits, then the ceilings (each states its fit's share), then the embeds."""
    steps: list[tuple[str, Callable[[Context], dict[str, Any]]]] = [
        ("install", check_install), ("environment", check_environment), ("catalog", check_catalog)]
    for kind, fn in (("fit", check_fit), ("ceiling", check_ceiling), ("embed", check_embed)):
        steps += [(f"{kind}:{m}", lambda ctx, fn=fn, m=m: fn(ctx, m)) for m in METHODS]
    steps.append(("index", check_index))
    return steps


def run_check(name: str, fn: Callable[[Context], dict[str, Any]], ctx: Context) -> CheckResult:
    """Run one check; any exception becomes its FAILED line (with the traceback in the log), never a crash."""
    start = time.perf_counter()
    print(f"\n== {name}", flush=True)
    if time.monotonic() > ctx.deadline:
        return CheckResult(name, False, "skipped: the run's time budget is spent", 0.0, {})
    try:
        figures = fn(ctx)
        return CheckResult(name, True, None, time.perf_counter() - start, figures)
    except CheckFailed as exc:
        return CheckResult(name, False, str(exc), time.perf_counter() - start, exc.figures)
    except Exception as exc:
        traceback.print_exc()
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        return CheckResult(name, False, reason, time.perf_counter() - start, {})


def default_out() -> Path:
    env = os.environ.get("OUT")
    return Path(env) if env else REPO / "runs" / "gpu_check"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes, same code path (seconds)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: $OUT, else runs/gpu_check)")
    parser.add_argument("--wheels", type=Path, default=REPO / ".gpu-wheels",
                        help="folder of wheels to install first (skipped when it does not exist)")
    parser.add_argument("--no-install", action="store_true", help="use the environment as it is")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (printed)")
    parser.add_argument("--epochs", type=int, default=None, help="override the profile's epochs per fit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if not args.no_install and args.wheels.is_dir():
        install_then_rerun(args, argv)  # does not return
    t0 = time.perf_counter()
    import_project()
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    warnings.filterwarnings("ignore", module="lightning_fabric")
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("WANDB_MODE", "disabled")

    name = "dry-run" if args.dry_run else "gpu"
    profile = PROFILES[name] if args.epochs is None else replace(PROFILES[name], epochs=args.epochs)
    if profile.threads:
        import torch

        torch.set_num_threads(profile.threads)
    out = args.out or default_out()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gpu_check_work_"))
    ctx = Context(profile, name, work, deadline=time.monotonic() + profile.budget_minutes * 60)
    results = []
    try:
        for check_name, fn in plan():
            result = run_check(check_name, fn, ctx)
            results.append(result)
            print(result.line(), flush=True)
    finally:
        if args.keep:
            print(f"scratch folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return report(results, ctx, out, time.perf_counter() - t0)


def report(results: list[CheckResult], ctx: Context, out: Path, seconds: float) -> int:
    """Write metrics.json and summary.txt; print the summary last (the device tool returns the tail)."""
    from colorvariants.io import write_json, write_text

    lines = [r.line() for r in results]
    ok = all(r.ok for r in results)
    shares = {r.name.split(":")[1]: r.figures.get("share_of_ceiling") for r in results
              if r.name.startswith("ceiling:") and r.ok}
    verdict = (f"{sum(r.ok for r in results)}/{len(results)} checks ok in {seconds:.0f} s "
               f"({ctx.profile_name}); data-path share of the model-only ceiling (target "
               f">= {SHARE_TARGET:.0%}): " + ", ".join(f"{m} {v:.0%}" if v is not None else f"{m} n/a"
                                                     for m, v in shares.items()))
    write_json(out / "metrics.json", {
        "profile": ctx.profile_name, "settings": asdict(ctx.profile), "ok": ok, "seconds": round(seconds, 1),
        "share_target": SHARE_TARGET, "summary": lines + [verdict],
        "checks": {r.name: {"status": "ok" if r.ok else "FAILED", "reason": r.reason,
                            "seconds": round(r.seconds, 2), **r.figures} for r in results},
    })
    write_text(out / "summary.txt", "\n".join(lines + [verdict]) + "\n")
    print("\n" + "\n".join(lines) + "\n" + verdict)
    print(f"wrote {out / 'metrics.json'} and {out / 'summary.txt'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
