"""``colorvariants benchmark``: compare the methods on a catalog under one budget; writes metrics + report."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorvariants.cli.common import add_catalog_arguments, load_catalog
from colorvariants.cli.registry import register
from colorvariants.report.benchmark_config import DEFAULT_EPOCHS, DEFAULT_METHODS, VARIANTS, BenchmarkConfig
from colorvariants.report.choices import METRIC_KEYS, REFERENCE_ROWS


def add_benchmark_arguments(p: argparse.ArgumentParser) -> None:
    """Budget flags shared by ``benchmark`` and ``demo``; a flag that mirrors a ``BenchmarkConfig`` field takes
    its default from there."""
    defaults = BenchmarkConfig()
    p.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                   help="comma list; also " + ", ".join(v for v in VARIANTS if v not in DEFAULT_METHODS))
    p.add_argument("--image-size", type=int, default=defaults.image_size)
    p.add_argument("--max-epochs", type=int, default=defaults.max_epochs,
                   help=f"epoch cap per method (default: {DEFAULT_EPOCHS} without --max-minutes, none with it)")
    p.add_argument("--max-minutes", type=float, default=defaults.max_minutes,
                   help="wall-clock budget per method (default: none); given alone, only time ends training")
    p.add_argument("--backbone", default=defaults.backbone)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size,
                   help=f"images per step for every row (default {defaults.batch_size}: under a CPU budget more "
                        "steps beat larger batches, BENCHMARKS.md; raise it on a GPU)")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--threads", type=int, default=defaults.threads)
    p.add_argument("--no-references", action="store_true", help="skip the untrained / colour-histogram rows")
    p.add_argument("--preprocess", action="append", default=[], metavar="BACKEND",
                   help="also run every row on the catalog with its background removed by BACKEND (floodfill, "
                        "grabcut, rembg; repeatable or comma-separated): rows '<row>+bg-BACKEND', images prepared "
                        "once under OUT/preprocessed/BACKEND/")
    p.add_argument("--preprocess-workers", type=int, default=defaults.preprocess_workers,
                   help=f"processes for --preprocess (default {defaults.preprocess_workers})")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides applied to every method")


def benchmark_config(args: argparse.Namespace) -> BenchmarkConfig:
    from colorvariants.report.catalog_versions import parse_preprocess

    return BenchmarkConfig(
        methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
        image_size=args.image_size, max_epochs=args.max_epochs, max_minutes=args.max_minutes,
        backbone=args.backbone, batch_size=args.batch_size, seed=args.seed, threads=args.threads,
        references=() if args.no_references else REFERENCE_ROWS, overrides=tuple(args.overrides or ()),
        progress_bar=not args.no_progress, preprocess=parse_preprocess(args.preprocess),
        preprocess_workers=args.preprocess_workers,
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_catalog_arguments(p)
    p.add_argument("--out", type=Path, required=True, help="benchmark folder (metrics.json, report.html, runs)")
    add_benchmark_arguments(p)


def run(args: argparse.Namespace) -> int:
    from colorvariants.outputs import claim
    from colorvariants.report.benchmark import run_benchmark

    cfg = benchmark_config(args)
    with claim(args.out, "benchmark"):
        doc = run_benchmark(load_catalog(args), args.out, cfg)
    print_table(doc)
    print(f"report: {args.out / 'report.html'}\nmetrics: {args.out / 'metrics.json'}")
    return 0


def print_table(doc: dict) -> None:
    """The metrics table on the terminal."""
    width = max([18, *(len(name) + 2 for name in doc["methods"])])
    print(f"{'method':<{width}}" + "".join(f"{k:>10}" for k in METRIC_KEYS)
          + f"{'epochs':>8}{'train s':>9}{'img/s':>8}  stopped by")
    for name, row in doc["methods"].items():
        print(f"{name:<{width}}" + "".join(f"{row[k]:>10.3f}" for k in METRIC_KEYS)
              + f"{row['epochs']:>8}{row['train_seconds']:>9.0f}{row['images_per_second']:>8.0f}"
              + f"  {row.get('stopped_by', '-')}")


register("benchmark", "train and compare methods on a catalog; writes metrics.json and report.html",
         add_arguments, run)
