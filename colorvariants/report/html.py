"""The benchmark's HTML report: one self-contained ``report.html`` a person can open, mail or attach to CI.

Everything is inside the file: images are base64 JPEG thumbnails, plots are inline SVG drawn by
``colorvariants.report.svg``, the style sheet is inline, and there is no JavaScript, external font or link, so
the page looks the same offline, in a mail attachment and in a headless browser. Sections, in reading order:
the headline (who wins recall@1 and by how much), the metrics table, original vs background-removed rows
(only when the benchmark ran with ``--preprocess``), recall@k curves, training curves, a
gallery of sample queries with each method's top-5 neighbours (hits and misses marked), samples of the
exported colour-variant groups, and the dataset and settings behind every number (shared/docs/protocol.md asks
each number to come with its method, config, backbone, image size, epochs, wall-clock and hardware).

>>> render_report(Path("runs/bench"))   # doctest: +SKIP
PosixPath('runs/bench/report.html')
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from colorvariants.io import write_text
from colorvariants.report.images import Thumbnails
from colorvariants.report.results import ORIGINAL, RECALL_KS, BenchmarkResults, EpochCurves
from colorvariants.report.svg import (
    PALETTE,
    REFERENCE_COLORS,
    Series,
    bar_chart,
    grouping_curve_chart,
    line_chart,
    nice_ticks,
)

REPORT_FILE = "report.html"
GALLERY_QUERIES = 8  # enough to see patterns, few enough to scan in a minute
GROUPS_PER_METHOD = 4
GROUP_STRIP_MAX = 12  # images shown per group strip; the rest are counted
TILE_PX, QUERY_PX, GROUP_PX = 56, 88, 52  # thumbnail sides in CSS pixels (encoded at up to 2x)
TIE = 5e-4  # recall@1 values closer than this print the same (one decimal of a percent): a tie
TABLE_METRICS: tuple[tuple[str, str], ...] = (
    *((f"recall@{k}", f"R@{k}") for k in RECALL_KS),
    ("map@r", "mAP@R"),
)
PREPROCESS_METRICS: tuple[tuple[str, str], ...] = (("recall@1", "R@1"), ("map@r", "mAP@R"))


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
    page = _Page(results)
    sections = [
        ("metrics", "Metrics", page.metrics_section()),
        *([("preprocess", "Original vs background removed", page.preprocess_section())]
          if results.preprocess_pairs() else []),
        ("curves", "Recall@k", page.recall_section()),
        ("training", "Training", page.training_section()),
        ("gallery", "Gallery", page.gallery_section(gallery_queries)),
        ("groups", "Colour-variant groups", page.groups_section(groups_per_method)),
        ("dataset", "Dataset and settings", page.dataset_section()),
    ]
    nav = "".join(f'<a href="#{key}">{html.escape(title)}</a>' for key, title, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{html.escape(title)}</h2>{content}</section>'
                   for key, title, content in sections)
    title = html.escape(f"colorvariants benchmark · {results.bench_dir.name}")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{CSS}</style></head><body><main>"
        f"{page.header()}{page.hero()}<nav>{nav}</nav>{body}{page.footer()}</main></body></html>\n"
    )


class _Page:
    """Renders the sections of one report; holds the method order, colours and the thumbnail cache."""

    def __init__(self, results: BenchmarkResults) -> None:
        self.r = results
        ranked = results.ranked()
        # Trained methods best first, references below them.
        self.order = [m for m in ranked if not results.is_reference(m)] + [
            m for m in ranked if results.is_reference(m)]
        trained = [m for m in results.methods if not results.is_reference(m)]
        refs = [m for m in results.methods if results.is_reference(m)]
        self.colors = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(trained)}
        self.colors.update({m: REFERENCE_COLORS[i % len(REFERENCE_COLORS)] for i, m in enumerate(refs)})
        self.thumbs = Thumbnails(results.image_root, size=TILE_PX)

    def swatch(self, name: str) -> str:
        return f'<span class="swatch" style="background:{self.colors.get(name, "#999")}"></span>'

    # -- header and headline ----------------------------------------------------------------------------
    def header(self) -> str:
        cfg, ds = self.r.config, self.r.dataset
        bits = [f"<b>{html.escape(self.r.bench_dir.name)}</b>"]
        if cfg.get("started"):
            bits.append(f"started {html.escape(_short_time(str(cfg['started'])))}")
        if cfg.get("machine"):
            bits.append(html.escape(str(cfg["machine"])))
        if ds.get("image_size"):
            bits.append(f"{_count(ds['image_size'])} px images")
        return ('<header><div class="kicker">colorvariants · benchmark report</div>'
                "<h1>Which embedding finds colour variants?</h1>"
                f'<div class="meta">{" · ".join(bits)}</div></header>')

    def hero(self) -> str:
        r = self.r
        winner = r.winner()
        if winner is None:
            return '<div class="hero"><p class="headline">No method reports recall@1.</p></div>'
        ranked = [m for m in r.ranked() if not math.isnan(r.metric(m, "recall@1"))]
        best = r.metric(winner, "recall@1")
        headline = (f"{self.swatch(winner)}<b>{html.escape(winner)}</b> finds a colour variant at rank 1 "
                    f"for <b>{_pct(best)}</b> of queries")
        if len(ranked) > 1:
            second = ranked[1]
            gap = best - r.metric(second, "recall@1")
            if gap < TIE:  # equal at the precision shown: say so rather than "+0.0 points ahead"
                tied = [m for m in ranked[1:] if best - r.metric(m, "recall@1") < TIE]
                headline += f", tied with {html.escape(', '.join(tied))}"
            else:
                headline += (f", <b>{_points(gap)}</b> ahead of {html.escape(second)} "
                             f"({_pct(r.metric(second, 'recall@1'))})")
        sub = []
        if r.is_reference(winner):
            sub.append("The winner is a <em>reference</em> row: no trained method beats it here.")
        else:
            refs = [m for m in ranked if r.is_reference(m)]
            if refs:
                gap = best - r.metric(refs[0], "recall@1")
                sub.append(f"{_points(gap)} over the best reference ({html.escape(refs[0])}, "
                           f"{_pct(r.metric(refs[0], 'recall@1'))}).")
            if not math.isnan(r.metric(winner, "map@r")):
                sub.append(f"mAP@R {_pct(r.metric(winner, 'map@r'))}.")
        bars = [(m, r.metric(m, "recall@1"), self.colors[m]) for m in self.order]
        chart = bar_chart(bars, width=520, title="recall@1 (share of queries with a variant at rank 1)",
                          value_format="{:.1%}")
        return (f'<div class="hero"><div class="hero-text"><p class="headline">{headline}.</p>'
                f'<p class="sub">{" ".join(sub)}</p>{self._cards()}</div>'
                f'<div class="hero-chart">{chart}</div></div>')

    def _cards(self) -> str:
        ds = self.r.dataset
        items = [("queries", "queries"), ("test images", "test_images"), ("styles", "styles"),
                 ("products", "products"), ("train images", "train_images")]
        cards = "".join(f'<div class="card"><div class="num">{_count(ds[key])}</div>'
                        f'<div class="lbl">{label}</div></div>'
                        for label, key in items if ds.get(key) is not None)
        return f'<div class="cards">{cards}</div>' if cards else ""

    # -- metrics table ----------------------------------------------------------------------------------
    def metrics_section(self) -> str:
        r = self.r
        trained = [m for m in self.order if not r.is_reference(m)]
        best: dict[str, float] = {}
        for key, _ in TABLE_METRICS:
            values = [r.metric(m, key) for m in self.order]
            if any(not math.isnan(v) for v in values):
                best[key] = max(v for v in values if not math.isnan(v))
        seconds = [r.metric(m, "train_seconds") for m in trained if r.metric(m, "train_seconds") > 0]
        speeds = [r.metric(m, "images_per_second") for m in trained if r.metric(m, "images_per_second") > 0]
        show_preprocess = any(r.preprocess_of(m) != ORIGINAL for m in self.order)
        rows = []
        for name in self.order:
            ref = r.is_reference(name)
            cells = [_td_text(_preprocess_label(r.preprocess_of(name)))] if show_preprocess else []
            for key, _ in TABLE_METRICS:
                v = r.metric(name, key)
                top = key in best and not math.isnan(v) and math.isclose(v, best[key], abs_tol=1e-12)
                bar = ""
                if key == "recall@1" and not math.isnan(v):
                    width = max(0.0, min(1.0, v)) * 100
                    bar = f'<i class="cellbar" style="width:{width:.1f}%;background:{self.colors[name]}"></i>'
                cells.append(_td(f"{bar}<span>{_pct(v)}</span>", top))
            epochs = r.metric(name, "epochs")
            secs = r.metric(name, "train_seconds")
            speed = r.metric(name, "images_per_second")
            fastest = bool(not ref and seconds and secs > 0 and math.isclose(secs, min(seconds)))
            quickest = bool(not ref and speeds and speed > 0 and math.isclose(speed, max(speeds)))
            cells.append(_td("–" if ref or math.isnan(epochs) else str(int(epochs))))
            cells.append(_td("–" if ref else _duration(secs), fastest))
            cells.append(_td("–" if ref else _rate(speed), quickest))
            cells.append(_td_text("–" if ref else str(r.methods[name].get("stopped_by", "–"))))
            tag = '<span class="tag">reference</span>' if ref else ""
            star = ' <span class="star" title="best recall@1">★</span>' if name == r.winner() else ""
            about = r.methods[name].get("description") or _find_key(r.methods[name].get("config"), "backbone")
            detail = f'<div class="small">{html.escape(str(about))}</div>' if about else ""
            rows.append(f'<tr class="{"ref" if ref else "trained"}"><th scope="row">{self.swatch(name)}'
                        f'{html.escape(name)}{star}{tag}{detail}</th>{"".join(cells)}</tr>')
            rows.extend(self._reranked_rows(name, show_preprocess))
        head = "<th>preprocess</th>" if show_preprocess else ""
        head += "".join(f"<th>{label}</th>" for _, label in TABLE_METRICS)
        return (
            '<p class="lead">Retrieval on styles never seen in training: a query is an image whose style has '
            "another colour; a hit is an image of the same style but another product "
            "(shared/docs/protocol.md). Best value per column in bold green; reference rows (no training) "
            "are shaded.</p>"
            f'<table class="metrics"><thead><tr><th>method</th>{head}<th>epochs</th><th>train time</th>'
            '<th>images/s</th><th title="which budget ended training: epochs or time">stopped by</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

    def _reranked_rows(self, name: str, show_preprocess: bool) -> list[str]:
        """A row per re-ranker under a method's plain row: the same embeddings, re-ranked on their kNN graph."""
        reranked = self.r.methods[name].get("reranked")
        if not isinstance(reranked, dict):
            return []
        out = []
        for spec, m in reranked.items():
            if not isinstance(m, dict):
                continue
            cells = [_td_text("")] if show_preprocess else []
            for key, _ in TABLE_METRICS:
                v = m.get(key)
                cells.append(_td(_pct(float(v)) if isinstance(v, (int, float)) else "–"))
            cost = m.get("rerank_s")
            cells += [_td("–"), _td(f"+{cost:.2f}s re-rank" if isinstance(cost, (int, float)) else "–"), _td("–")]
            out.append(f'<tr class="reranked"><th scope="row" class="small">&nbsp;&nbsp;↳ {html.escape(name)} '
                       f're-ranked: {html.escape(str(spec))}</th>{"".join(cells)}</tr>')
        return out

    # -- original vs background removed -------------------------------------------------------------------
    def preprocess_section(self) -> str:
        """Each method and reference run on the original and on background-removed images, side by side, with
        the change in points (shared/docs/background.md: it helps shallow from-scratch networks, not always)."""
        r = self.r
        pairs = r.preprocess_pairs()
        versions = [ORIGINAL] + sorted({p for rows in pairs.values() for p in rows if p != ORIGINAL})
        head = "".join(f"<th>{html.escape(_preprocess_label(v))}<br>{label}</th>"
                       for v in versions for _, label in PREPROCESS_METRICS)
        body = []
        for base, rows in pairs.items():
            cells = []
            for version in versions:
                for key, _ in PREPROCESS_METRICS:
                    name = rows.get(version)
                    value = r.metric(name, key) if name else math.nan
                    change = ""
                    if version != ORIGINAL and ORIGINAL in rows and not math.isnan(value):
                        gap = value - r.metric(rows[ORIGINAL], key)
                        if not math.isnan(gap):
                            change = f' <span class="small">({_signed(gap)})</span>'
                    cells.append(_td(f"<span>{_pct(value)}</span>{change}"))
            ref = r.is_reference(rows.get(ORIGINAL) or next(iter(rows.values())))
            tag = '<span class="tag">reference</span>' if ref else ""
            body.append(f'<tr class="{"ref" if ref else "trained"}"><th scope="row">{html.escape(base)}{tag}</th>'
                        f'{"".join(cells)}</tr>')
        return ('<p class="lead">The same rows trained and evaluated on the catalog as given and with its '
                "background removed (same splits, same test images; changes in points against the original in "
                "brackets). Removal helps shallow networks trained from scratch and can hurt deep pretrained ones "
                "(shared/docs/background.md), so measure it on your catalog. The gallery and groups below show "
                "the original photos for every row.</p>"
                f'<table class="metrics"><thead><tr><th>row</th>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table>')

    # -- charts -----------------------------------------------------------------------------------------
    def recall_section(self) -> str:
        r = self.r
        series = []
        for name in self.order:
            pts = [(k, v * 100) for k in RECALL_KS if not math.isnan(v := r.metric(name, f"recall@{k}"))]
            if pts:
                series.append(Series(name, [k for k, _ in pts], [v for _, v in pts], self.colors[name],
                                     dashed=r.is_reference(name)))
        chart = line_chart(series, width=600, height=340, title="recall@k per method",
                           x_label="k (log scale)", y_label="recall@k (%)", x_ticks=RECALL_KS, x_log=True,
                           y_min=0, y_max=100)
        val = [Series(name, [e + 1 for e, _ in c.val_recall], [v * 100 for _, v in c.val_recall],
                      self.colors[name]) for name, c in self._curves() if c.val_recall]
        side = ""
        if val:
            side = line_chart(val, width=500, height=340, title="validation recall@1 during training",
                              x_label="epoch", y_label="recall@1 (%)", x_ticks=_epoch_ticks(val),
                              y_min=0, y_max=100)
        return f'<div class="charts">{chart}{side}</div>'

    def training_section(self) -> str:
        curves = [(name, c) for name, c in self._curves() if c.loss]
        if not curves:
            return ('<p class="note">No training logs (DIR/runs/&lt;method&gt;/logs/metrics.csv) were '
                    "found.</p>")
        charts = []
        for name, c in curves:
            s = Series(name, [e + 1 for e, _ in c.loss], [v for _, v in c.loss], self.colors[name])
            charts.append(line_chart([s], width=360, height=210, title=f"{name}: training loss",
                                     x_label="epoch", x_ticks=_epoch_ticks([s]), legend=False))
        return ('<p class="lead">Mean training loss per epoch. Each method has its own loss (triplet margin, '
                "InfoNCE, ...), so each gets its own y axis: compare shapes, not heights.</p>"
                f'<div class="multiples">{"".join(charts)}</div>')

    def _curves(self) -> list[tuple[str, EpochCurves]]:
        return [(m, self.r.curves[m]) for m in self.order if m in self.r.curves]

    # -- gallery ----------------------------------------------------------------------------------------
    def gallery_section(self, n_queries: int) -> str:
        nb, ids = self.r.neighbors, self.r.test_ids
        if nb is None or ids is None or not nb.queries:
            return ('<p class="note">No neighbour sample to show (needs DIR/neighbors.json and an embedding '
                    "id table).</p>")
        methods = [m for m in self.order if m in nb.neighbors]
        cards = []
        for qi in _spread(len(nb.queries), n_queries):
            q = nb.queries[qi]
            if not 0 <= q < len(ids):
                continue
            rows = "".join(self._neighbour_row(ids, name, _at(nb.neighbors[name], qi),
                                               _at(nb.hits.get(name, []), qi)) for name in methods)
            label = _label(ids, q)
            lines = "<br>".join(html.escape(part) for part in label.split(" · "))
            uri = self.thumbs.uri(ids.at[q, "image_path"], QUERY_PX)
            text = html.escape(label)
            cards.append(f'<div class="qcard"><div class="query"><img src="{uri}" width="{QUERY_PX}" '
                         f'height="{QUERY_PX}" alt="query: {text}" title="{text}">'
                         f'<div class="qlabel">query #{qi + 1}<br><span>{lines}</span></div></div>'
                         f'<div class="nrows">{rows}</div></div>')
        return (f'<p class="lead">{len(cards)} of {len(nb.queries)} sampled queries (evenly spaced, not '
                "chosen by result) and each method's top-5 neighbours: "
                '<span class="key hit">same style (hit)</span> '
                '<span class="key miss">other style (miss)</span>. Hover a picture for its ids.</p>'
                f'<div class="gallery">{"".join(cards)}</div>')

    def _neighbour_row(self, ids: pd.DataFrame, name: str, neighbours: list[int], hits: list[bool]) -> str:
        tiles = "".join(self._tile(ids, row, hits[rank] if rank < len(hits) else None, f"rank {rank + 1}")
                        for rank, row in enumerate(neighbours))
        n_hits = sum(bool(h) for h in hits[: len(neighbours)])
        return (f'<div class="nrow"><div class="mname" style="border-color:{self.colors.get(name, "#999")}">'
                f'<div class="nm" title="{html.escape(name)}">{html.escape(name)}</div>'
                f'<div class="score">{n_hits}/{len(neighbours)} hits</div></div>'
                f'<div class="tiles">{tiles}</div></div>')

    def _tile(self, ids: pd.DataFrame, row: int, hit: bool | None, caption: str) -> str:
        cls = "" if hit is None else ("hit" if hit else "miss")
        if not 0 <= row < len(ids):
            missing = html.escape(f"{caption}: row {row} is not in the id table")
            return f'<span class="tile {cls}" title="{missing}"></span>'
        label = f"{caption} · {_label(ids, row)}" + ("" if hit is None else (" · hit" if hit else " · miss"))
        uri = self.thumbs.uri(ids.at[row, "image_path"])
        return (f'<span class="tile {cls}"><img src="{uri}" width="{TILE_PX}" height="{TILE_PX}" '
                f'alt="{html.escape(label)}" title="{html.escape(label)}"></span>')

    # -- groups -----------------------------------------------------------------------------------------
    def groups_section(self, per_method: int) -> str:
        failed = {m: str(g["error"]) for m in self.order
                  if isinstance(g := self.r.methods[m].get("grouping"), dict) and g.get("error")}
        missing = '<p class="note">No exported groups (DIR/groups/&lt;method&gt;.csv) were found.</p>'
        if not self.r.groups and not failed:
            return missing
        style_of = self._style_lookup()
        blocks = [] if self.r.groups else [missing]
        for name in self.order:
            title = f"<h3>{self.swatch(name)}{html.escape(name)}</h3>"
            frame = self.r.groups.get(name)
            if frame is None:
                if name in failed:
                    blocks.append(f'<div class="gblock">{title}<p class="note">no groups exported: '
                                  f"{html.escape(failed[name])}</p>{self._curve(name)}</div>")
                continue
            if "group_id" not in frame.columns or "image_path" not in frame.columns or frame.empty:
                continue
            styles = frame["style_id"] if "style_id" in frame.columns else frame["image_path"].map(style_of)
            frame = frame.assign(_style=styles.fillna("").astype(str))
            blocks.append(f'<div class="gblock">{title}{self._group_block(name, frame, per_method)}</div>')
        return ('<p class="lead">The largest exported colour-variant groups per method, most products first '
                "(images ordered by similarity to the medoid). A <span class=\"key miss\">red</span> frame "
                "marks an image whose style differs from the group's majority: a wrong merge.</p>"
                + "".join(blocks))

    def _group_block(self, name: str, frame: pd.DataFrame, per_method: int) -> str:
        by_group = frame.groupby("group_id")
        sizes = by_group.size().sort_values(ascending=False, kind="stable")
        multi = sizes[sizes > 1]
        stats = (f"{len(sizes):,} groups over {len(frame):,} images · "
                 f"{int((sizes == 1).sum()):,} singletons · largest {int(sizes.iloc[0]):,} images")
        if multi.size and frame["_style"].ne("").all():
            pure = int((by_group["_style"].nunique().reindex(multi.index) == 1).sum())
            stats += f" · {pure}/{multi.size} multi-image groups hold a single style"
        # Groups joining several products (colour variants) first, then by images: one product photographed
        # twice is a group too, but it says nothing about colour variants.
        key = "product_id" if "product_id" in frame.columns else "image_path"
        rank = pd.DataFrame({"products": by_group[key].nunique().reindex(multi.index), "images": multi})
        shown = rank.sort_values(["products", "images"], ascending=False, kind="stable").index[:per_method]
        strips = "".join(self._group_strip(frame, g) for g in shown)
        quality = _grouping_quality(self.r.methods[name].get("grouping"))
        quality += self._curve(name)
        return (f'<div class="small">{stats}</div>{quality}'
                f'{strips or "<p class=note>every image is its own group.</p>"}')

    def _curve(self, name: str) -> str:
        """The grouping's precision-recall curve over thresholds with the chosen point, and what targets cost."""
        grouping = self.r.methods[name].get("grouping")
        curve = grouping.get("curve") if isinstance(grouping, dict) else None
        if not isinstance(curve, dict) or not curve.get("points"):
            return ""
        reach = curve.get("recall_at_precision") or {}
        costs = " · ".join(f"precision {lv}: {('recall ' + _pct(float(v))) if isinstance(v, (int, float)) else 'out of reach'}"
                           for lv, v in reach.items())
        chosen = curve.get("chosen")
        if isinstance(chosen, int) and 0 <= chosen < len(curve["points"]):
            p = curve["points"][chosen]
            costs += (f" · chosen ({html.escape(str(curve.get('criterion', '')))}): threshold {p['threshold']:.3f}, "
                      f"precision {_pct(p['pair_precision'])}, recall {_pct(p['pair_recall'])}")
        return (f'<div class="small">grouping trade-off ({html.escape(str(curve.get("method", "")))}): {costs}</div>'
                f'<div class="chart">{grouping_curve_chart(curve, self.colors[name])}</div>')

    def _group_strip(self, frame: pd.DataFrame, group_id: Any) -> str:
        members = frame[frame["group_id"] == group_id]
        if "similarity_to_medoid" in members.columns:
            members = members.sort_values("similarity_to_medoid", ascending=False, kind="stable")
        majority = members["_style"].mode().iloc[0] if members["_style"].ne("").any() else ""
        tiles = []
        for _, row in members.head(GROUP_STRIP_MAX).iterrows():
            off = bool(majority) and row["_style"] != majority
            label = f"product {row.get('product_id', '')}"
            if row["_style"]:
                label += f" · style {row['_style']}"
            if row.get("similarity_to_medoid", "") != "":
                label += f" · similarity to medoid {float(row['similarity_to_medoid']):.3f}"
            uri = self.thumbs.uri(row["image_path"], GROUP_PX)
            text = html.escape(label)
            tiles.append(f'<span class="tile sm {"miss" if off else ""}"><img src="{uri}" width="{GROUP_PX}" '
                         f'height="{GROUP_PX}" alt="{text}" title="{text}"></span>')
        if len(members) > GROUP_STRIP_MAX:
            tiles.append(f'<span class="more">+{len(members) - GROUP_STRIP_MAX}</span>')
        facts = []
        if "product_id" in members.columns:
            facts.append(_plural(members["product_id"].nunique(), "product"))
        if n_styles := members.loc[members["_style"] != "", "_style"].nunique():
            facts.append(_plural(n_styles, "style"))
        return (f'<div class="gstrip"><div class="glabel">group {html.escape(str(group_id))}<br>'
                f'<span>{len(members)} images</span><br><span>{" · ".join(facts)}</span></div>'
                f'<div class="tiles">{"".join(tiles)}</div></div>')

    def _style_lookup(self) -> dict[str, str]:
        ids = self.r.test_ids
        if ids is None or "style_id" not in ids.columns:
            return {}
        return dict(zip(ids["image_path"].astype(str), ids["style_id"].astype(str)))

    # -- dataset, settings, footer ----------------------------------------------------------------------
    def dataset_section(self) -> str:
        tables = _kv_table(self.r.dataset, "dataset") + _kv_table(self.r.config, "benchmark settings")
        configs = "".join(
            f"<details><summary>{self.swatch(m)}{html.escape(m)}</summary>"
            f"<pre>{html.escape(json.dumps(self.r.methods[m]['config'], indent=2, default=str))}</pre>"
            "</details>"
            for m in self.order if self.r.methods[m].get("config")
        )
        configs = f"<h3>Method configs</h3>{configs}" if configs else ""
        return f'<div class="kv-grid">{tables}</div>{configs}'

    def footer(self) -> str:
        notes = list(self.r.notes)
        if self.thumbs.missing:
            notes.append(f"{len(self.thumbs.missing)} image(s) could not be read and show as grey tiles "
                         f"(e.g. {', '.join(self.thumbs.missing[:5])}); image root: {self.r.image_root}.")
        items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        made = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        return (f'<footer>{f"<ul class=notes>{items}</ul>" if items else ""}'
                f"<p>Generated by colorvariants on {html.escape(made)} from "
                f"<code>{html.escape(str(self.r.bench_dir))}</code>. Self-contained: no network access "
                "needed.</p></footer>")


# -- formatting helpers ------------------------------------------------------------------------------------
def _pct(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value * 100:.1f}%"


def _points(gap: float) -> str:
    return f"{_signed(gap)} points"


def _signed(gap: float) -> str:
    """A difference of shares in percentage points, signed: ``+1.2``, ``−0.4``."""
    return f"{'+' if gap >= 0 else '−'}{abs(gap) * 100:.1f}"


def _duration(seconds: float) -> str:
    if math.isnan(seconds):
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} m {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} m"


def _rate(value: float) -> str:
    if math.isnan(value) or value <= 0:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _count(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return html.escape(str(value))


def _short_time(text: str) -> str:
    try:
        return dt.datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return text


def _grouping_quality(grouping: Any) -> str:
    """One line of a benchmark row's grouping metrics (threshold, pairwise precision/recall, ARI)."""
    if not isinstance(grouping, dict):
        return ""
    parts = []
    if isinstance(grouping.get("threshold"), (int, float)):
        parts.append(f"similarity threshold {grouping['threshold']:.3f}")
    for key, label in (("pairwise_precision", "pair precision"), ("pairwise_recall", "pair recall"),
                       ("pairwise_f1", "pair F1")):
        if isinstance(grouping.get(key), (int, float)):
            parts.append(f"{label} {_pct(float(grouping[key]))}")
    if isinstance(grouping.get("ari"), (int, float)):
        parts.append(f"ARI {grouping['ari']:.3f}")
    return f'<div class="small">{" · ".join(parts)}</div>' if parts else ""


def _td(content: str, best: bool = False) -> str:
    return f'<td class="num{" best" if best else ""}">{content}</td>'


def _td_text(text: str) -> str:
    return f'<td class="small wrap">{html.escape(text)}</td>'


def _preprocess_label(preprocess: str) -> str:
    """``none`` -> ``original``; ``bg-floodfill`` -> ``background removed (floodfill)``."""
    if preprocess == ORIGINAL:
        return "original"
    if preprocess.startswith("bg-"):
        return f"background removed ({preprocess[3:]})"
    return preprocess


def _at(rows: list[list[Any]], i: int) -> list[Any]:
    return rows[i] if i < len(rows) else []


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _label(ids: pd.DataFrame, row: int) -> str:
    parts = []
    if "style_id" in ids.columns:
        parts.append(f"style {ids.at[row, 'style_id']}")
    parts.append(f"product {ids.at[row, 'product_id']}")
    return " · ".join(parts)


def _spread(n: int, k: int) -> list[int]:
    """``k`` evenly spaced positions out of ``n`` (all when ``n <= k``): a sample not chosen by result."""
    if n <= k:
        return list(range(n))
    return sorted({int(round(i * (n - 1) / (k - 1))) for i in range(k)}) if k > 1 else [0]


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


def _kv_table(data: dict[str, Any], title: str) -> str:
    if not data:
        return ""
    rows = []
    for key, value in _flatten(data):
        shown = _count(value) if isinstance(value, int) and not isinstance(value, bool) else str(value)
        if isinstance(value, float):
            shown = f"{value:.4g}"
        rows.append(f"<tr><th>{html.escape(key.replace('_', ' '))}</th><td>{html.escape(shown)}</td></tr>")
    return f'<div><h3>{html.escape(title)}</h3><table class="kv">{"".join(rows)}</table></div>'


def _flatten(data: dict[str, Any], prefix: str = "") -> Sequence[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.extend(_flatten(value, name + "."))
        elif isinstance(value, (list, tuple)):
            out.append((name, ", ".join(str(v) for v in value)))
        else:
            out.append((name, value))
    return out


CSS = """
:root{--ink:#1d1d24;--muted:#62636e;--line:#e4e4ea;--bg:#f6f6f9;--card:#fff;--hit:#2e9e44;--miss:#d64545;
--best:#e6f4ea;--accent:#4e79a7}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
main{max-width:1280px;margin:0 auto;padding:28px 32px 48px}
header .kicker{text-transform:uppercase;
letter-spacing:.08em;font-size:11px;color:var(--accent);font-weight:700}
h1{font-size:28px;margin:4px 0 2px;letter-spacing:-.01em}
header .meta{color:var(--muted)}
h2{font-size:19px;margin:0 0 10px}
h3{font-size:15px;margin:14px 0 6px}
.hero{display:flex;gap:28px;align-items:center;background:var(--card);border:1px solid var(--line);
border-radius:12px;padding:22px 26px;margin:18px 0 14px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.hero-text{flex:1 1 420px}.hero-chart{flex:0 0 auto}
.headline{font-size:21px;line-height:1.4;margin:0 0 8px}
.sub{color:var(--muted);margin:0 0 14px}
.cards{display:flex;gap:10px;flex-wrap:wrap}
.card{background:var(--bg);border-radius:8px;padding:8px 14px;min-width:92px}
.card .num{font-size:18px;font-weight:700}
.card .lbl{font-size:11px;color:var(--muted);text-transform:uppercase;
letter-spacing:.05em}
nav{display:flex;gap:6px;flex-wrap:wrap;margin:0 0 14px}
nav a{color:var(--accent);text-decoration:none;background:var(--card);border:1px solid var(--line);
border-radius:999px;padding:3px 12px;font-size:13px}
section{background:var(--card);
border:1px solid var(--line);border-radius:12px;padding:18px 22px;margin:0 0 14px}
.lead{color:var(--muted);margin:0 0 12px;max-width:900px}
.note{color:var(--muted);font-style:italic}
.small{font-size:12px;color:var(--muted);font-weight:400}
.swatch{display:inline-block;width:10px;height:10px;border-radius:3px;margin-right:7px;vertical-align:0}
table{border-collapse:collapse}
table.metrics{width:100%}
.metrics th,.metrics td{
padding:7px 10px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
.metrics thead th{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em;
border-bottom:2px solid var(--line)}
.metrics td.num{text-align:right;font-variant-numeric:tabular-nums;position:relative}
.metrics td.num span{position:relative}
.metrics td.wrap{white-space:normal;min-width:90px;max-width:130px}
.metrics td.best{background:var(--best);color:#17692b;font-weight:700}
.metrics tr.ref{background:#f7f7f9;color:#6b6b76}.metrics tr.ref th{font-style:italic;font-weight:500}
.cellbar{position:absolute;left:0;top:7px;bottom:7px;opacity:.2;border-radius:0 4px 4px 0}
.tag{display:inline-block;font-size:10px;font-style:normal;text-transform:uppercase;letter-spacing:.05em;
background:#e4e4ea;color:#55555f;border-radius:4px;padding:1px 6px;margin-left:8px;vertical-align:1px}
.star{color:#e0a100}
.charts,.multiples{display:flex;gap:18px;flex-wrap:wrap}
svg.chart{max-width:100%;height:auto}
.key{display:inline-block;padding:0 6px;border-radius:4px;border:2px solid}
.key.hit{border-color:var(--hit)}.key.miss{border-color:var(--miss)}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
.qcard{display:flex;gap:14px;border:1px solid var(--line);border-radius:10px;padding:12px;background:#fcfcfe}
.query{flex:0 0 92px;text-align:center}
.query img{border-radius:8px;border:3px solid var(--ink);background:#fff}
.qlabel{font-size:12px;font-weight:600;margin-top:4px}.qlabel span{font-weight:400;color:var(--muted)}
.nrows{flex:1;display:flex;flex-direction:column;gap:5px}
.nrow{display:flex;align-items:center;gap:8px}
.mname{flex:0 0 124px;font-size:12px;min-width:0;border-left:4px solid #999;padding-left:7px}
.mname .nm{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-weight:600}
.mname .score{color:var(--muted);font-variant-numeric:tabular-nums}
.tiles{display:flex;gap:4px;flex-wrap:wrap;align-items:center}
.nrow .tiles{flex-wrap:nowrap}
.tile{position:relative;display:inline-block;
width:56px;height:56px;border-radius:6px;border:3px solid #d0d0d8;
overflow:hidden;background:#eee}
.tile img{display:block;width:100%;height:100%;object-fit:cover}
.tile.hit{border-color:var(--hit)}.tile.miss{border-color:var(--miss)}
.tile.hit::after,.tile.miss::after{position:absolute;right:0;bottom:0;font:700 10px/1 sans-serif;color:#fff;
padding:2px 3px;border-top-left-radius:4px}
.tile.hit::after{content:"\\2713";background:var(--hit)}
.tile.miss::after{content:"\\2717";background:var(--miss)}
.tile.sm{width:52px;height:52px;border-width:2px}
.tile.sm::after{display:none}
.gblock{margin:0 0 16px}.gblock h3{margin-bottom:2px}
.gstrip{display:flex;align-items:center;gap:12px;padding:7px 0;border-bottom:1px dashed var(--line)}
.glabel{flex:0 0 150px;font-size:12px;font-weight:600}.glabel span{font-weight:400;color:var(--muted)}
.more{font-size:12px;color:var(--muted);padding:0 6px}
.kv-grid{display:flex;gap:40px;flex-wrap:wrap}
table.kv th{text-align:left;font-weight:500;color:var(--muted);padding:3px 18px 3px 0;vertical-align:top}
table.kv td{padding:3px 0;font-variant-numeric:tabular-nums;max-width:520px;overflow-wrap:anywhere}
details{border:1px solid var(--line);border-radius:8px;padding:6px 12px;margin:6px 0;background:#fcfcfe}
summary{cursor:pointer;font-weight:600}
pre{font-size:12px;overflow:auto;max-height:360px}
footer{color:var(--muted);font-size:12px;margin-top:20px}
footer ul.notes{padding-left:18px}
@media print{body{background:#fff}section,.hero{break-inside:avoid;box-shadow:none}}
"""
