"""``colorvariants fit``: train one method from its YAML config on a catalog; resumable."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorvariants.cli.common import add_catalog_arguments, load_catalog
from colorvariants.cli.config_flags import ConfigFlag, add_config_flags, flag_overrides
from colorvariants.cli.registry import register
from colorvariants.data.choices import CROP_MODES
from colorvariants.models.choices import METHOD_NAMES, PRECISIONS

# The plain flags, each setting the config key it names (the flag is the key's last part: --max-epochs).
FIT_FLAGS = (
    ConfigFlag("trainer.max_epochs", int,
               "epoch cap (default: the config's trainer.max_epochs, 10; none when only --max-minutes is given)"),
    ConfigFlag("trainer.max_minutes", float,
               "wall-clock budget; training stops at whichever of the two limits comes first"),
    ConfigFlag("data.image_size", int),
    ConfigFlag("data.batch_size", int),
    ConfigFlag("data.num_workers", int),
    ConfigFlag("model.backbone"),
    ConfigFlag("model.pretrained", help="local weights file to initialise the backbone (never downloaded)"),
    ConfigFlag("trainer.seed", int),
    ConfigFlag("trainer.accelerator", help="cpu | gpu | auto"),
    ConfigFlag("trainer.devices", help="number of devices per node, or auto"),
    ConfigFlag("trainer.num_nodes", int),
    ConfigFlag("trainer.strategy", help="auto | ddp | ..."),
    ConfigFlag("trainer.precision", help=f"{' | '.join(PRECISIONS)} (default: bf16 on GPU, 32 on CPU)"),
    ConfigFlag("trainer.threads", int, "torch CPU threads"),
    ConfigFlag("data.cache_dir", help="where decoded images are cached"),
    ConfigFlag("data.crop", help="crop to the product before resizing", choices=CROP_MODES),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, required=True, help="method YAML, e.g. configs/cvssl.yaml")
    add_catalog_arguments(p)
    p.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, logs, model.pt)")
    add_config_flags(p, FIT_FLAGS)
    p.add_argument("--wandb", action="store_true", help="also log to Weights & Biases (offline without credentials)")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoints/last.ckpt")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="any config key, e.g. model.temperature=0.1 data.pk_k=4")


def build_fit_config(args: argparse.Namespace):  # -> FitConfig (import kept lazy for --help speed)
    """The resolved FitConfig from the YAML, the plain flags and KEY=VALUE overrides (in that order)."""
    from colorvariants.config import apply_overrides, from_dict, load_yaml
    from colorvariants.models.resume import resolved_config
    from colorvariants.models.training import FitConfig

    data = load_yaml(args.config)
    overrides = flag_overrides(args, FIT_FLAGS)
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


register("fit", f"train a method ({', '.join(METHOD_NAMES)}) on a catalog", add_arguments, run)
