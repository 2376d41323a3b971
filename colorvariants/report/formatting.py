"""How the report prints numbers, times and labels: plain text, escaped by the templates that show it.

>>> pct(0.4123), signed(-0.004), duration(75.0), rate(1234.5)
('41.2%', '−0.4', '1 m 15 s', '1,234')
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from colorvariants.report.results import ORIGINAL

DASH = "–"  # an absent value in a table cell


def pct(value: float | None) -> str:
    """A share as a percentage with one decimal: ``41.2%``; ``–`` when absent."""
    return DASH if value is None or math.isnan(value) else f"{value * 100:.1f}%"


def signed(gap: float) -> str:
    """A difference of shares in percentage points, signed: ``+1.2``, ``−0.4``."""
    return f"{'+' if gap >= 0 else '−'}{abs(gap) * 100:.1f}"


def points(gap: float) -> str:
    """A signed difference of shares in words: ``+1.2 points``."""
    return f"{signed(gap)} points"


def duration(seconds: float) -> str:
    """``12.5 s``, ``3 m 05 s`` or ``2 h 10 m``; ``–`` when absent."""
    if math.isnan(seconds):
        return DASH
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} m {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} m"


def rate(value: float) -> str:
    """Images per second: thousands separated from 100 up, one decimal below; ``–`` when absent or zero."""
    if math.isnan(value) or value <= 0:
        return DASH
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def count(value: Any) -> str:
    """An integer with thousands separators (``12,345``); anything else as written."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def short_time(text: str) -> str:
    """An ISO timestamp to the minute (``2025-01-02 03:04``); other text as written."""
    try:
        return dt.datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return text


def plural(n: int, word: str) -> str:
    """``1 style``, ``2 styles``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def preprocess_label(preprocess: str) -> str:
    """``none`` -> ``original``; ``bg-floodfill`` -> ``background removed (floodfill)``."""
    if preprocess == ORIGINAL:
        return "original"
    if preprocess.startswith("bg-"):
        return f"background removed ({preprocess[3:]})"
    return preprocess


def grouping_quality(grouping: Any) -> str:
    """One line of a benchmark row's grouping metrics (threshold, pairwise precision/recall, ARI); "" if none."""
    if not isinstance(grouping, dict):
        return ""
    parts = []
    if isinstance(grouping.get("threshold"), (int, float)):
        parts.append(f"similarity threshold {grouping['threshold']:.3f}")
    for key, label in (("pairwise_precision", "pair precision"), ("pairwise_recall", "pair recall"),
                       ("pairwise_f1", "pair F1")):
        if isinstance(grouping.get(key), (int, float)):
            parts.append(f"{label} {pct(float(grouping[key]))}")
    if isinstance(grouping.get("ari"), (int, float)):
        parts.append(f"ARI {grouping['ari']:.3f}")
    return " · ".join(parts)


def key_values(data: dict[str, Any]) -> list[tuple[str, str]]:
    """A nested settings dict as ``(label, text)`` rows: keys dotted and spaced, numbers shortened."""
    rows = []
    for key, value in _flatten(data):
        shown = count(value) if isinstance(value, int) and not isinstance(value, bool) else str(value)
        if isinstance(value, float):
            shown = f"{value:.4g}"
        rows.append((key.replace("_", " "), shown))
    return rows


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
