"""``colorvariants fit``: train one method from its YAML config on a catalog; resumable."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorvariants.cli.common import add_catalog_arguments, load_catalog, note_config_defaults
from colorvariants.cli.registry import register
from colorvariants.data.choices import CROP_MODES

# Plain top-level flags -> the config key they set.
FLAG_KEYS = {
    "max_epochs": "trainer.max_epochs",
    "max_minutes": "trainer.max_minutes",
    "image_size": "data.image_size",
    "batch_size": "data.batch_size",
    "num_workers": "data.num_workers",
    "backbone": "model.backbone",
    "pretrained": "model.pretrained",
    "seed": "trainer.seed",
    "accelerator": "trainer.accelerator",
    "devices": "trainer.devices",
    "num_nodes": "trainer.num_nodes",
    "strategy": "trainer.strategy",
    "precision": "trainer.precision",
    "threads": "trainer.threads",
    "cache_dir": "data.cache_dir",
    "crop": "data.crop",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, required=True, help="method YAML, e.g. configs/cvssl.yaml")
    add_catalog_arguments(p)
    p.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, logs, model.pt)")
    p.add_argument("--max-epochs", type=int,
                   help="epoch cap (default: the config's trainer.max_epochs, 10; none when only --max-minutes is given)")
    p.add_argument("--max-minutes", type=float,
                   help="wall-clock budget; training stops at whichever of the two limits comes first")
    p.add_argument("--image-size", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--num-workers", type=int)
    p.add_argument("--backbone")
    p.add_argument("--pretrained", help="local weights file to initialise the backbone (never downloaded)")
    p.add_argument("--seed", type=int)
    p.add_argument("--accelerator", help="cpu | gpu | auto")
    p.add_argument("--devices", help="number of devices per node, or auto")
    p.add_argument("--num-nodes", type=int)
    p.add_argument("--strategy", help="auto | ddp | ...")
    p.add_argument("--precision", help="32-true | bf16-mixed | 16-mixed (default: bf16 on GPU, 32 on CPU)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--cache-dir", help="where decoded images are cached")
    p.add_argument("--crop", choices=CROP_MODES, help="crop to the product before resizing")
    p.add_argument("--wandb", action="store_true", help="also log to Weights & Biases (offline without credentials)")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoints/last.ckpt")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="any config key, e.g. model.temperature=0.1 data.pk_k=4")
    note_config_defaults(p, FLAG_KEYS)


def build_fit_config(args: argparse.Namespace):  # -> FitConfig (import kept lazy for --help speed)
    """The resolved FitConfig from the YAML, the plain flags and KEY=VALUE overrides (in that order)."""
    from colorvariants.config import apply_overrides, from_dict, load_yaml
    from colorvariants.models.resume import resolved_config
    from colorvariants.models.training import FitConfig

    data = load_yaml(args.config)
    overrides = []
    for attr, key in FLAG_KEYS.items():
        value = getattr(args, attr, None)
        if value is not None:
            if attr == "devices" and str(value).isdigit():
                value = int(value)
            overrides.append(f"{key}={value}")
    if getattr(args, "wandb", False):
        overrides.append("trainer.wandb=true")
    data = apply_overrides(data, overrides + list(args.overrides or []))
    epochs_given = args.max_epochs is not None or any(
        str(o).startswith("trainer.max_epochs=") for o in args.overrides or [])
    if getattr(args, "max_minutes", None) is not None and not epochs_given:
        data.setdefault("trainer", {})["max_epochs"] = None  # a time budget alone: the YAML's epoch cap must not bind
    cfg = from_dict(FitConfig, data)
    resolved_config(cfg)  # the model section checked now (names, types), not at the first training step
    return cfg


def run(args: argparse.Namespace) -> int:
    from colorvariants.models.resume import check_resume
    from colorvariants.models.training import fit
    from colorvariants.outputs import claim

    cfg = build_fit_config(args)
    catalog = load_catalog(args)
    with claim(args.out, "fit-run"):
        changed = check_resume(args.out, cfg) if args.resume else {}
        if changed:
            print("resume with changed settings (recorded in resumes.jsonl): "
                  + ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in changed.items()), flush=True)
        result = fit(cfg, catalog, args.out, resume=args.resume)
    print(f"trained {cfg.method} for {result.epochs} epoch(s) in {result.train_seconds:.1f}s "
          f"({result.images_per_second:.1f} images/s); model: {result.model_path}")
    if result.val_metrics:
        print("validation: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.val_metrics.items())))
    return 0


register("fit", "train a method (triplet, simclr, mocov2, cvssl) on a catalog", add_arguments, run)
