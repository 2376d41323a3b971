"""``colorvariants demo``: synthesise a catalog and benchmark the four methods on it with a CPU-sized budget."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorvariants.cli.commands.benchmark import add_benchmark_arguments, benchmark_config, print_table
from colorvariants.cli.registry import register


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default: runs/demo)")
    p.add_argument("--styles", type=int, default=200, help="styles in the synthetic catalog (default: 200)")
    p.add_argument("--synth-size", type=int, default=96, help="side of the synthetic images in pixels")
    add_benchmark_arguments(p)
    p.set_defaults(max_minutes=1.25)  # a time budget alone: no epoch cap binds


def run(args: argparse.Namespace) -> int:
    from colorvariants.data.catalog import Catalog
    from colorvariants.data.synth import SynthConfig, write_synthetic_catalog
    from colorvariants.report.benchmark import run_benchmark

    manifest = write_synthetic_catalog(args.out / "catalog", SynthConfig(styles=args.styles, seed=args.seed,
                                                                          size=args.synth_size))
    catalog = Catalog.load(manifest)
    doc = run_benchmark(catalog, args.out / "benchmark", benchmark_config(args))
    print_table(doc)
    print(f"\nreport:  {(args.out / 'benchmark' / 'report.html').resolve()}")
    print(f"metrics: {(args.out / 'benchmark' / 'metrics.json').resolve()}")
    return 0


register("demo", "synthesise a catalog and benchmark every method on it (CPU-sized budget)", add_arguments, run)
