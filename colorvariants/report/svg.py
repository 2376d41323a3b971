"""Small inline-SVG charts (line and horizontal bar) for the HTML report: no matplotlib, no JavaScript.

The charts are plain SVG strings meant to be pasted into an HTML page, so a report stays one self-contained
file that any browser (or a headless one in CI) renders the same way.

>>> svg = line_chart([Series("cvssl", [1, 5, 10], [0.4, 0.7, 0.8], "#4e79a7")], x_log=True)
>>> svg.startswith("<svg") and "cvssl" in svg
True
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Tableau 10 without its red and green: those two mean "miss" and "hit" everywhere else in the report.
PALETTE: tuple[str, ...] = ("#4e79a7", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7",
                            "#1f3b73", "#bab0ac", "#8cd17d")
REFERENCE_COLORS: tuple[str, ...] = ("#6b6b6b", "#a0a0a0", "#c4c4c4")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


@dataclass(frozen=True)
class Series:
    """One line of a line chart: legend name, points (``x`` and ``y`` pair up: equal lengths), colour, and
    whether it is dashed (reference rows)."""

    name: str
    x: Sequence[float]
    y: Sequence[float]
    color: str
    dashed: bool = False


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (steps of 1, 2, 2.5 or 5 x 10^n) covering ``[lo, hi]``.

    >>> nice_ticks(0.0, 1.0)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(1, count)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw)
    first = math.floor(lo / step + 1e-9)
    last = max(first + 1, math.ceil(hi / step - 1e-9))
    return [round(i * step, 10) for i in range(first, last + 1)]


def format_tick(value: float) -> str:
    """Short tick label: ``0.2``, ``15``, ``1.2k``, ``3e-05``."""
    if value == 0:
        return "0"
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    if abs(value) < 1e-3:
        return f"{value:.0e}"
    return f"{value:.4g}"


def _text(x: float, y: float, content: str, *, size: int = 11, anchor: str = "middle", color: str = "#444",
          weight: str = "normal", rotate: bool = False) -> str:
    transform = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{color}" '
            f'font-weight="{weight}"{transform}>{html.escape(content)}</text>')


def line_chart(
    series: Sequence[Series],
    *,
    width: int = 560,
    height: int = 320,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    x_ticks: Sequence[float] | None = None,
    x_log: bool = False,
    y_min: float | None = None,
    y_max: float | None = None,
    legend: bool = True,
) -> str:
    """An SVG line chart with markers at every point (a one-epoch run still shows its single value).

    Args:
        series: the lines; points with a non-finite x or y are skipped.
        x_ticks: x values to label (default: round values over the data range).
        x_log: log-scale x (for recall@k, where k is 1, 5, 10, 20).
        y_min, y_max: fixed y range (default: the data's, padded to round ticks).
        legend: a legend to the right of the plot.

    Returns:
        An ``<svg>`` element sized ``width`` x ``height`` (it scales with its container).
    """
    points = [[(float(x), float(y)) for x, y in zip(s.x, s.y, strict=True)
               if math.isfinite(float(x)) and math.isfinite(float(y)) and (not x_log or float(x) > 0)]
              for s in series]
    xs = [p[0] for pts in points for p in pts]
    ys = [p[1] for pts in points for p in pts]
    legend_w = 0
    if legend and series:
        longest = max(len(s.name) for s in series)
        legend_w = min(190, 34 + 7 * longest)
    left, right, top, bottom = 54, 14 + legend_w, 30 if title else 12, 44 if x_label else 28
    plot_w, plot_h = max(40, width - left - right), max(40, height - top - bottom)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" font-family="{FONT}" class="chart">']
    if title:
        parts.append(f"<title>{html.escape(title)}</title>")
        parts.append(_text(left, 18, title, size=13, anchor="start", color="#222", weight="600"))
    if not xs:
        parts.append(_text(width / 2, height / 2, "no data", size=13, color="#888"))
        parts.append("</svg>")
        return "".join(parts)

    def tx(v: float) -> float:
        return math.log(v) if x_log else v

    x_vals = list(x_ticks) if x_ticks is not None else ([] if x_log else nice_ticks(min(xs), max(xs), 6))
    if x_log and not x_vals:
        x_vals = sorted({x for x in xs})
    x_lo = min([tx(v) for v in xs] + [tx(v) for v in x_vals if not x_log or v > 0])
    x_hi = max([tx(v) for v in xs] + [tx(v) for v in x_vals if not x_log or v > 0])
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1.0, x_hi + 1.0
    y_ticks = nice_ticks(min(ys) if y_min is None else y_min, max(ys) if y_max is None else y_max, 5)
    y_lo = y_min if y_min is not None else y_ticks[0]
    y_hi = y_max if y_max is not None else y_ticks[-1]
    y_ticks = [t for t in y_ticks if y_lo - 1e-9 <= t <= y_hi + 1e-9]
    if y_hi == y_lo:
        y_hi = y_lo + 1.0
    pad = 0.04 * (x_hi - x_lo)  # keep end markers off the frame

    def px(v: float) -> float:
        return left + (tx(v) - x_lo + pad) / (x_hi - x_lo + 2 * pad) * plot_w

    def py(v: float) -> float:
        return top + (1.0 - (v - y_lo) / (y_hi - y_lo)) * plot_h

    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fbfbfd" '
                 'stroke="#ddd"/>')
    for t in y_ticks:
        y = py(t)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e6e6ea"/>')
        parts.append(_text(left - 6, y + 4, format_tick(t), anchor="end", color="#666"))
    for t in x_vals:
        if x_log and t <= 0:
            continue
        x = px(t)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#eeeef2"/>')
        parts.append(_text(x, top + plot_h + 16, format_tick(t), color="#666"))
    if x_label:
        parts.append(_text(left + plot_w / 2, height - 8, x_label, color="#555"))
    if y_label:
        parts.append(_text(14, top + plot_h / 2, y_label, color="#555", rotate=True))
    for s, pts in zip(series, points, strict=True):
        if not pts:
            continue
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        name = html.escape(s.name)
        parts.append(f'<g class="series" data-name="{name}"><title>{name}</title>')
        if len(pts) > 1:
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{s.color}" stroke-width="2.2" '
                         f'stroke-linejoin="round" stroke-linecap="round"{dash}/>')
        for x, y in pts:
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.2" fill="#fff" stroke="{s.color}" '
                         f'stroke-width="2"><title>{name}: {format_tick(x)} → {y:.4g}</title></circle>')
        parts.append("</g>")
    if legend:
        ly = top + 8
        lx = left + plot_w + 14
        for s in series:
            dash = ' stroke-dasharray="5 3"' if s.dashed else ""
            parts.append(f'<line x1="{lx}" x2="{lx + 20}" y1="{ly:.1f}" y2="{ly:.1f}" stroke="{s.color}" '
                         f'stroke-width="2.6"{dash}/>')
            label = s.name if len(s.name) <= 22 else s.name[:21] + "…"
            parts.append(_text(lx + 26, ly + 4, label, anchor="start", color="#333"))
            ly += 18
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    bars: Sequence[tuple[str, float, str]],
    *,
    width: int = 560,
    bar_height: int = 22,
    title: str = "",
    value_max: float | None = 1.0,
    value_format: str = "{:.3f}",
) -> str:
    """A horizontal SVG bar chart of ``(label, value, colour)`` rows, in the order given, values printed.

    >>> "cvssl" in bar_chart([("cvssl", 0.8, "#4e79a7"), ("untrained", 0.2, "#999")])
    True
    """
    label_w = min(200, 16 + 7 * max((len(b[0]) for b in bars), default=4))
    top = 30 if title else 8
    height = top + len(bars) * (bar_height + 8) + 8
    finite = [v for _, v, _ in bars if math.isfinite(v)]
    vmax = value_max if value_max is not None else (max(finite, default=1.0) or 1.0)
    plot_w = max(40, width - label_w - 70)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" font-family="{FONT}" class="chart">']
    if title:
        parts.append(f"<title>{html.escape(title)}</title>")
        parts.append(_text(8, 18, title, size=13, anchor="start", color="#222", weight="600"))
    for i, (label, value, color) in enumerate(bars):
        y = top + i * (bar_height + 8)
        parts.append(_text(label_w - 8, y + bar_height / 2 + 4, label, size=12, anchor="end", color="#333"))
        parts.append(f'<rect x="{label_w}" y="{y}" width="{plot_w}" height="{bar_height}" rx="3" '
                     'fill="#f0f0f4"/>')
        if math.isfinite(value):
            w = max(0.0, min(1.0, value / vmax)) * plot_w
            parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_height}" rx="3" '
                         f'fill="{color}"><title>{html.escape(label)}: {value:.4g}</title></rect>')
            text = value_format.format(value)
        else:
            text = "–"
        parts.append(_text(label_w + plot_w + 8, y + bar_height / 2 + 4, text, size=12, anchor="start",
                           color="#222", weight="600"))
    parts.append("</svg>")
    return "".join(parts)


def grouping_curve_chart(curve: dict[str, Any], color: str, *, width: int = 520, height: int = 260) -> str:
    """Pair precision over pair recall of grouping at each threshold (``GroupingCurve.as_dict()``), the chosen
    operating point as its own marker; recall on a log axis, where the high-precision points lie."""
    points = [p for p in curve.get("points", []) if p.get("pair_recall", 0) > 0]
    series = [Series("thresholds", [p["pair_recall"] for p in points], [p["pair_precision"] for p in points], color)]
    chosen = curve.get("chosen")
    if isinstance(chosen, int) and 0 <= chosen < len(curve.get("points", [])):
        p = curve["points"][chosen]
        series.append(Series("chosen point", [p["pair_recall"]], [p["pair_precision"]], "#d62728"))
    ticks = [t for t in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
             if points and min(s.x[0] for s in series if s.x) / 3 <= t <= 1.0]
    return line_chart(series, width=width, height=height, x_label="pair recall (share of variant pairs grouped)",
                      y_label="pair precision", x_log=True, x_ticks=ticks or None, y_min=0.0, y_max=1.0)
