"""Inline SVG charts: tick choice, points placed in range, and degenerate inputs (one point, NaN, no data)."""

from __future__ import annotations

import itertools
import math
import re

import pytest

from colorvariants.report.svg import Series, bar_chart, format_tick, line_chart, nice_ticks


class TestNiceTicks:
    @pytest.mark.parametrize(("lo", "hi"),
                             [(0.0, 1.0), (0.13, 0.87), (3.0, 1234.0), (-2.5, 2.5), (0.001, 0.004)])
    def test_cover_the_range_with_round_steps(self, lo: float, hi: float) -> None:
        ticks = nice_ticks(lo, hi)
        assert ticks[0] <= lo + 1e-12 and ticks[-1] >= hi - 1e-12
        steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
        assert len(steps) == 1
        mantissa = steps.pop() / 10 ** math.floor(math.log10(ticks[1] - ticks[0]))
        assert round(mantissa, 6) in (1.0, 2.0, 2.5, 5.0)
        assert 3 <= len(ticks) <= 12

    def test_flat_range_is_widened(self) -> None:
        ticks = nice_ticks(0.5, 0.5)
        assert ticks[0] < 0.5 < ticks[-1]

    def test_format(self) -> None:
        values = (0, 0.2, 15, 1200, 25_000, 2e-5)
        assert [format_tick(v) for v in values] == ["0", "0.2", "15", "1.2k", "25k", "2e-05"]


def _circles(svg: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)"', svg)]


class TestLineChart:
    def test_points_inside_the_plot_and_ordered(self) -> None:
        svg = line_chart([Series("a", [1, 5, 10, 20], [10, 40, 60, 90], "#123456")], width=400, height=300,
                         x_ticks=[1, 5, 10, 20], x_log=True, y_min=0, y_max=100)
        pts = _circles(svg)
        assert len(pts) == 4 and "<polyline" in svg
        assert all(0 < x < 400 and 0 < y < 300 for x, y in pts)
        assert [p[0] for p in pts] == sorted(p[0] for p in pts)
        assert [p[1] for p in pts] == sorted((p[1] for p in pts), reverse=True)  # higher value, higher up
        # log scale: 1 -> 10 spans the same width as 2 -> 20 would; 5 -> 10 is shorter than 1 -> 5
        assert pts[2][0] - pts[1][0] < pts[1][0] - pts[0][0]

    def test_single_point_and_non_finite_values(self) -> None:
        svg = line_chart([Series("one", [1], [0.5], "#000"),
                          Series("bad", [1, 2], [math.nan, math.inf], "#111")])
        assert len(_circles(svg)) == 1 and "<polyline" not in svg
        assert 'data-name="one"' in svg and 'data-name="bad"' not in svg

    def test_no_data_says_so(self) -> None:
        assert "no data" in line_chart([], title="empty")

    def test_names_are_escaped_and_reference_lines_dashed(self) -> None:
        svg = line_chart([Series("<b>x</b>", [1, 2], [1, 2], "#000", dashed=True)])
        assert "<b>x</b>" not in svg and "&lt;b&gt;" in svg and "stroke-dasharray" in svg


def test_bar_chart_widths_follow_values() -> None:
    svg = bar_chart([("a", 0.8, "#111"), ("b", 0.2, "#222"), ("c", math.nan, "#333")], width=500)
    bar = r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="\d+" rx="3" fill="#[12]'
    widths = [float(w) for w in re.findall(bar, svg)]
    assert len(widths) == 2 and widths[0] == pytest.approx(4 * widths[1], rel=1e-2)
    assert "0.800" in svg and "–" in svg
