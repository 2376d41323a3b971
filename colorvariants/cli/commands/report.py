"""``colorvariants report``: the self-contained HTML report of a benchmark directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorvariants.cli.registry import register
from colorvariants.report.choices import GALLERY_QUERIES, GROUPS_PER_METHOD


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bench", type=Path, required=True,
                        help="the --out folder of `colorvariants benchmark` (holds metrics.json)")
    parser.add_argument("--out", type=Path, default=None,
                        help="HTML file to write (default: BENCH/report.html)")
    parser.add_argument("--gallery-queries", type=int, default=GALLERY_QUERIES,
                        help="sample queries shown in the gallery")
    parser.add_argument("--groups-per-method", type=int, default=GROUPS_PER_METHOD,
                        help="largest groups shown per method")


def run(args: argparse.Namespace) -> int:
    from colorvariants.report.html import render_report

    path = render_report(args.bench, args.out, gallery_queries=args.gallery_queries,
                         groups_per_method=args.groups_per_method)
    size_kb = path.stat().st_size / 1024
    print(f"wrote {path} ({size_kb:,.0f} kB, self-contained: open it in any browser)")
    return 0


register("report", "write the self-contained HTML report of a benchmark directory", add_arguments, run)
