"""The context of each report section except the pictures: plain values its template lays out.

One function per section (``header``, ``hero``, ``metrics``, ``preprocess``, ``curves``, ``training``,
``dataset``, ``footer``) reads a ``ReportView`` and returns the dict ``templates/<section>.html.j2`` renders;
the gallery and the groups, which embed thumbnails, are in ``report/picture_sections.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from colorvariants.report.choices import RECALL_KS
from colorvariants.report.formatting import (
    DASH,
    count,
    duration,
    key_values,
    pct,
    points,
    preprocess_label,
    rate,
    short_time,
    signed,
)
from colorvariants.report.images import Thumbnails
from colorvariants.report.results import ORIGINAL, BenchmarkResults, EpochCurves
from colorvariants.report.svg import PALETTE, REFERENCE_COLORS, Series, bar_chart, line_chart, nice_ticks

TILE_PX = 56  # gallery thumbnail side in CSS pixels (encoded at up to 2x)
TIE = 5e-4  # recall@1 values closer than this print the same (one decimal of a percent): a tie
TABLE_METRICS: tuple[tuple[str, str], ...] = (
    *((f"recall@{k}", f"R@{k}") for k in RECALL_KS),
    ("map@r", "mAP@R"),
)
PREPROCESS_METRICS: tuple[tuple[str, str], ...] = (("recall@1", "R@1"), ("map@r", "mAP@R"))
HERO_CARDS: tuple[tuple[str, str], ...] = (("queries", "queries"), ("test images", "test_images"),
                                           ("styles", "styles"), ("products", "products"),
                                           ("train images", "train_images"))


@dataclass
class ReportView:
    """One report's results with the row order, each row's colour and the thumbnail cache, shared by sections."""

    results: BenchmarkResults
    order: list[str]  # trained methods best first, references below them
    colors: dict[str, str]
    thumbs: Thumbnails

    @classmethod
    def of(cls, results: BenchmarkResults) -> ReportView:
        ranked = results.ranked()
        trained = [m for m in results.methods if not results.is_reference(m)]
        refs = [m for m in results.methods if results.is_reference(m)]
        colors = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(trained)}
        colors.update({m: REFERENCE_COLORS[i % len(REFERENCE_COLORS)] for i, m in enumerate(refs)})
        order = ([m for m in ranked if not results.is_reference(m)]
                 + [m for m in ranked if results.is_reference(m)])
        return cls(results, order, colors, Thumbnails(results.image_root, size=TILE_PX))

    def color(self, name: str) -> str:
        return self.colors.get(name, "#999")


def header(view: ReportView) -> dict[str, Any]:
    """The page title block: benchmark folder, start time, machine, image size."""
    cfg, ds = view.results.config, view.results.dataset
    return {
        "name": view.results.bench_dir.name,
        "started": short_time(str(cfg["started"])) if cfg.get("started") else None,
        "machine": str(cfg["machine"]) if cfg.get("machine") else None,
        "image_size": count(ds["image_size"]) if ds.get("image_size") else None,
    }


def hero(view: ReportView) -> dict[str, Any]:
    """The headline: who wins recall@1, by how much over the next row and the best reference, and a bar chart."""
    r = view.results
    winner = r.winner()
    if winner is None:
        return {"winner": None}
    ranked = [m for m in r.ranked() if not math.isnan(r.metric(m, "recall@1"))]
    best = r.metric(winner, "recall@1")
    ctx: dict[str, Any] = {"winner": winner, "color": view.color(winner), "recall": pct(best), "tied": None,
                           "ahead": None, "reference_wins": r.is_reference(winner), "over_reference": None,
                           "map": None}
    if len(ranked) > 1:
        second = ranked[1]
        if best - r.metric(second, "recall@1") < TIE:  # equal at the precision shown: not "+0.0 points ahead"
            ctx["tied"] = ", ".join(m for m in ranked[1:] if best - r.metric(m, "recall@1") < TIE)
        else:
            ctx["ahead"] = _versus(r, best, second)
    if not ctx["reference_wins"]:
        refs = [m for m in ranked if r.is_reference(m)]
        if refs:
            ctx["over_reference"] = _versus(r, best, refs[0])
        if not math.isnan(r.metric(winner, "map@r")):
            ctx["map"] = pct(r.metric(winner, "map@r"))
    ctx["cards"] = [{"value": count(r.dataset[key]), "label": label}
                    for label, key in HERO_CARDS if r.dataset.get(key) is not None]
    bars = [(m, r.metric(m, "recall@1"), view.colors[m]) for m in view.order]
    ctx["chart"] = Markup(bar_chart(bars, width=520, title="recall@1 (share of queries with a variant at rank 1)",
                                    value_format="{:.1%}"))
    return ctx


def _versus(r: BenchmarkResults, best: float, other: str) -> dict[str, str]:
    return {"points": points(best - r.metric(other, "recall@1")), "name": other,
            "recall": pct(r.metric(other, "recall@1"))}


def metrics(view: ReportView) -> dict[str, Any]:
    """The metrics table: a row per method (best value per column marked), re-ranked rows under their method."""
    r = view.results
    trained = [m for m in view.order if not r.is_reference(m)]
    best: dict[str, float] = {}
    for key, _ in TABLE_METRICS:
        values = [v for m in view.order if not math.isnan(v := r.metric(m, key))]
        if values:
            best[key] = max(values)
    seconds = [s for m in trained if (s := r.metric(m, "train_seconds")) > 0]
    speeds = [s for m in trained if (s := r.metric(m, "images_per_second")) > 0]
    rows = []
    for name in view.order:
        ref = r.is_reference(name)
        cells = []
        for key, _ in TABLE_METRICS:
            v = r.metric(name, key)
            bar = None
            if key == "recall@1" and not math.isnan(v):
                bar = f"{max(0.0, min(1.0, v)) * 100:.1f}"
            top = key in best and not math.isnan(v) and math.isclose(v, best[key], abs_tol=1e-12)
            cells.append({"text": pct(v), "best": top, "bar": bar})
        epochs = r.metric(name, "epochs")
        secs = r.metric(name, "train_seconds")
        speed = r.metric(name, "images_per_second")
        row = r.methods[name]
        about = row.get("description") or _find_key(row.get("config"), "backbone")
        rows.append({
            "name": name, "color": view.colors[name], "reference": ref, "winner": name == r.winner(),
            "about": str(about) if about else None, "preprocess": preprocess_label(r.preprocess_of(name)),
            "metrics": cells,
            "epochs": DASH if ref or math.isnan(epochs) else str(int(epochs)),
            "train_time": DASH if ref else duration(secs),
            "fastest": bool(not ref and seconds and secs > 0 and math.isclose(secs, min(seconds))),
            "speed": DASH if ref else rate(speed),
            "quickest": bool(not ref and speeds and speed > 0 and math.isclose(speed, max(speeds))),
            "stopped_by": DASH if ref else str(row.get("stopped_by", DASH)),
            "reranked": _reranked(row.get("reranked")),
        })
    return {"show_preprocess": any(r.preprocess_of(m) != ORIGINAL for m in view.order),
            "labels": [label for _, label in TABLE_METRICS], "rows": rows}


def _reranked(reranked: Any) -> list[dict[str, Any]]:
    """A row per re-ranker of a method: the same embeddings, re-ranked on their kNN graph."""
    if not isinstance(reranked, dict):
        return []
    out = []
    for spec, m in reranked.items():
        if not isinstance(m, dict):
            continue
        values = [pct(float(v)) if isinstance(v := m.get(key), (int, float)) else DASH for key, _ in TABLE_METRICS]
        cost = m.get("rerank_s")
        out.append({"spec": str(spec), "metrics": values,
                    "cost": f"+{cost:.2f}s re-rank" if isinstance(cost, (int, float)) else DASH})
    return out


def preprocess(view: ReportView) -> dict[str, Any]:
    """Each row run on the original and on background-removed images side by side, with the change in points
    (shared/docs/background.md: it helps shallow from-scratch networks, not always)."""
    r = view.results
    pairs = r.preprocess_pairs()
    versions = [ORIGINAL] + sorted({p for rows in pairs.values() for p in rows if p != ORIGINAL})
    rows = []
    for base, names in pairs.items():
        cells = []
        for version in versions:
            for key, _ in PREPROCESS_METRICS:
                name = names.get(version)
                value = r.metric(name, key) if name else math.nan
                change = None
                if version != ORIGINAL and ORIGINAL in names and not math.isnan(value):
                    gap = value - r.metric(names[ORIGINAL], key)
                    change = None if math.isnan(gap) else signed(gap)
                cells.append({"text": pct(value), "change": change})
        reference = r.is_reference(names.get(ORIGINAL) or next(iter(names.values())))
        rows.append({"name": base, "reference": reference, "cells": cells})
    headers = [(preprocess_label(v), label) for v in versions for _, label in PREPROCESS_METRICS]
    return {"headers": headers, "rows": rows}


def curves(view: ReportView) -> dict[str, Any]:
    """Recall@k per method (references dashed) and, when logged, validation recall@1 per epoch."""
    r = view.results
    series = []
    for name in view.order:
        pts = [(k, v * 100) for k in RECALL_KS if not math.isnan(v := r.metric(name, f"recall@{k}"))]
        if pts:
            series.append(Series(name, [k for k, _ in pts], [v for _, v in pts], view.colors[name],
                                 dashed=r.is_reference(name)))
    charts = [line_chart(series, width=600, height=340, title="recall@k per method", x_label="k (log scale)",
                         y_label="recall@k (%)", x_ticks=RECALL_KS, x_log=True, y_min=0, y_max=100)]
    val = [Series(name, [e + 1 for e, _ in c.val_recall], [v * 100 for _, v in c.val_recall], view.colors[name])
           for name, c in _curves(view) if c.val_recall]
    if val:
        charts.append(line_chart(val, width=500, height=340, title="validation recall@1 during training",
                                 x_label="epoch", y_label="recall@1 (%)", x_ticks=_epoch_ticks(val),
                                 y_min=0, y_max=100))
    return {"charts": [Markup(c) for c in charts]}


def training(view: ReportView) -> dict[str, Any]:
    """One small loss chart per trained method (each loss has its own scale)."""
    charts = []
    for name, c in _curves(view):
        if c.loss:
            s = Series(name, [e + 1 for e, _ in c.loss], [v for _, v in c.loss], view.colors[name])
            charts.append(Markup(line_chart([s], width=360, height=210, title=f"{name}: training loss",
                                            x_label="epoch", x_ticks=_epoch_ticks([s]), legend=False)))
    return {"charts": charts}


def dataset(view: ReportView) -> dict[str, Any]:
    """The dataset counts and benchmark settings as key-value tables, and each method's config as JSON."""
    r = view.results
    tables = [{"title": title, "rows": key_values(data)}
              for title, data in (("dataset", r.dataset), ("benchmark settings", r.config)) if data]
    configs = [{"name": m, "color": view.color(m),
                "json": json.dumps(r.methods[m]["config"], indent=2, default=str)}
               for m in view.order if r.methods[m].get("config")]
    return {"tables": tables, "configs": configs}


def footer(view: ReportView) -> dict[str, Any]:
    """What is missing from the benchmark folder (and unreadable images), when and from where the page was made."""
    r = view.results
    notes = list(r.notes)
    if view.thumbs.missing:
        notes.append(f"{len(view.thumbs.missing)} image(s) could not be read and show as grey tiles "
                     f"(e.g. {', '.join(view.thumbs.missing[:5])}); image root: {r.image_root}.")
    made = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return {"notes": notes, "made": made, "bench_dir": str(r.bench_dir)}


def _curves(view: ReportView) -> list[tuple[str, EpochCurves]]:
    return [(m, view.results.curves[m]) for m in view.order if m in view.results.curves]


def _epoch_ticks(series: Iterable[Series]) -> list[float]:
    xs = [float(x) for s in series for x in s.x]
    lo, hi = (min(xs), max(xs)) if xs else (1.0, 1.0)
    if hi - lo <= 10:
        return [float(e) for e in range(int(lo), int(hi) + 1)]
    return [t for t in nice_ticks(lo, hi, 6) if float(t).is_integer()]


def _find_key(obj: Any, key: str) -> Any:
    """The first value of ``key`` in a nested dict (a method config may nest the backbone under ``model``)."""
    if isinstance(obj, dict):
        if key in obj and not isinstance(obj[key], dict):
            return obj[key]
        for value in obj.values():
            found = _find_key(value, key)
            if found is not None:
                return found
    return None
