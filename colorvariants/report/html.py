"""The benchmark's HTML report: one self-contained ``report.html`` a person can open, mail or attach to CI.

Everything is inside the file: images are base64 JPEG thumbnails, plots are inline SVG drawn by
``colorvariants.report.svg``, the style sheet is inline, and there is no JavaScript, external font or link, so
the page looks the same offline, in a mail attachment and in a headless browser. Sections, in reading order:
the headline (who wins recall@1 and by how much), the metrics table, original vs background-removed rows
(only when the benchmark ran with ``--preprocess``), recall@k curves, training curves, a
gallery of sample queries with each method's top-5 neighbours (hits and misses marked), samples of the
exported colour-variant groups, and the dataset and settings behind every number (shared/docs/protocol.md asks
each number to come with its method, config, backbone, image size, epochs, wall-clock and hardware).

Each section is a function that builds its context (``report/sections.py``, ``report/picture_sections.py``)
and a jinja2 template that lays it out (``report/templates/<section>.html.j2``, autoescaped: see
``report/templating.py``).

>>> render_report(Path("runs/bench"))   # doctest: +SKIP
PosixPath('runs/bench/report.html')
"""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from colorvariants.io import write_text
from colorvariants.report import picture_sections, sections
from colorvariants.report.choices import GALLERY_QUERIES, GROUPS_PER_METHOD
from colorvariants.report.results import BenchmarkResults
from colorvariants.report.sections import ReportView
from colorvariants.report.templating import render, stylesheet

REPORT_FILE = "report.html"


def render_report(
    bench_dir: Path,
    out: Path | None = None,
    *,
    gallery_queries: int = GALLERY_QUERIES,
    groups_per_method: int = GROUPS_PER_METHOD,
) -> Path:
    """Write the self-contained HTML report of a benchmark directory and return its path.

    Args:
        bench_dir: the folder ``run_benchmark`` wrote (``metrics.json`` and friends).
        out: where to write (default ``bench_dir/report.html``); written atomically.
        gallery_queries: sample queries shown in the gallery.
        groups_per_method: largest groups shown per method.

    Raises:
        BenchmarkReadError: ``bench_dir`` has no readable ``metrics.json``.
    """
    bench_dir = Path(bench_dir)
    results = BenchmarkResults.load(bench_dir)
    page = build_html(results, gallery_queries=gallery_queries, groups_per_method=groups_per_method)
    dest = Path(out) if out is not None else bench_dir / REPORT_FILE
    write_text(dest, page)
    return dest


def build_html(
    results: BenchmarkResults,
    *,
    gallery_queries: int = GALLERY_QUERIES,
    groups_per_method: int = GROUPS_PER_METHOD,
) -> str:
    """The report page as one HTML string (see the module docstring for its sections)."""
    view = ReportView.of(results)
    contents: list[tuple[str, str, Markup]] = [
        ("metrics", "Metrics", render("metrics.html.j2", **sections.metrics(view))),
        *([("preprocess", "Original vs background removed",
            render("preprocess.html.j2", **sections.preprocess(view)))] if results.preprocess_pairs() else []),
        ("curves", "Recall@k", render("curves.html.j2", **sections.curves(view))),
        ("training", "Training", render("training.html.j2", **sections.training(view))),
        ("gallery", "Gallery", render("gallery.html.j2", **picture_sections.gallery(view, gallery_queries))),
        ("groups", "Colour-variant groups",
         render("groups.html.j2", **picture_sections.groups(view, groups_per_method))),
        ("dataset", "Dataset and settings", render("dataset.html.j2", **sections.dataset(view))),
    ]
    # The header and headline come first on the page; the footer last, as it lists images found unreadable.
    header = render("header.html.j2", **sections.header(view))
    hero = render("hero.html.j2", **sections.hero(view))
    return render(
        "page.html.j2",
        title=f"colorvariants benchmark · {results.bench_dir.name}",
        css=stylesheet(),
        header=header,
        hero=hero,
        sections=[{"key": key, "title": title, "html": html} for key, title, html in contents],
        footer=render("footer.html.j2", **sections.footer(view)),
    ) + "\n"
