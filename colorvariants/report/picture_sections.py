"""The context of the report's picture sections: the neighbour gallery and the colour-variant groups.

Like ``report/sections.py``, each function reads a ``ReportView`` and returns the dict its template
(``gallery.html.j2``, ``groups.html.j2``) renders; pictures are base64 thumbnails from the view's cache.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from markupsafe import Markup

from colorvariants.report.formatting import grouping_quality, pct, plural
from colorvariants.report.sections import TILE_PX, ReportView
from colorvariants.report.svg import grouping_curve_chart

QUERY_PX, GROUP_PX = 88, 52  # thumbnail sides in CSS pixels (encoded at up to 2x)
GROUP_STRIP_MAX = 12  # images shown per group strip; the rest are counted


def gallery(view: ReportView, n_queries: int) -> dict[str, Any]:
    """``n_queries`` evenly spaced sample queries, each with every method's top neighbours marked hit or miss."""
    r = view.results
    nb, ids = r.neighbors, r.test_ids
    base = {"query_px": QUERY_PX, "tile_px": TILE_PX}
    if nb is None or ids is None or not nb.queries:
        return {**base, "cards": None}
    methods = [m for m in view.order if m in nb.neighbors]
    cards = []
    for qi in _spread(len(nb.queries), n_queries):
        q = nb.queries[qi]
        if not 0 <= q < len(ids):
            continue
        rows = []
        for name in methods:
            neighbours, hits = _at(nb.neighbors[name], qi), _at(nb.hits.get(name, []), qi)
            tiles = [_tile(view, ids, row, hits[rank] if rank < len(hits) else None, f"rank {rank + 1}")
                     for rank, row in enumerate(neighbours)]
            rows.append({"name": name, "color": view.color(name), "tiles": tiles,
                         "hits": sum(bool(h) for h in hits[: len(neighbours)])})
        label = _label(ids, q)
        cards.append({"number": qi + 1, "label": label, "lines": label.split(" · "), "rows": rows,
                      "uri": view.thumbs.uri(str(ids.at[q, "image_path"]), QUERY_PX)})
    return {**base, "cards": cards, "total": len(nb.queries)}


def _tile(view: ReportView, ids: pd.DataFrame, row: int, hit: bool | None, caption: str) -> dict[str, Any]:
    cls = "tile " + ("" if hit is None else ("hit" if hit else "miss"))
    if not 0 <= row < len(ids):
        return {"cls": cls, "uri": None, "label": f"{caption}: row {row} is not in the id table"}
    label = f"{caption} · {_label(ids, row)}" + ("" if hit is None else (" · hit" if hit else " · miss"))
    return {"cls": cls, "uri": view.thumbs.uri(str(ids.at[row, "image_path"])), "label": label}


def groups(view: ReportView, per_method: int) -> dict[str, Any]:
    """Per method, the ``per_method`` largest exported groups (most products first), or why there are none."""
    r = view.results
    failed = {m: str(g["error"]) for m in view.order
              if isinstance(g := r.methods[m].get("grouping"), dict) and g.get("error")}
    ctx: dict[str, Any] = {"has_groups": bool(r.groups), "blocks": [], "group_px": GROUP_PX}
    if not r.groups and not failed:
        return ctx
    style_of = _style_lookup(view)
    for name in view.order:
        block = {"name": name, "color": view.color(name), "error": None, "curve": _curve(view, name)}
        frame = r.groups.get(name)
        if frame is None:
            if name in failed:
                ctx["blocks"].append({**block, "error": failed[name]})
            continue
        if "group_id" not in frame.columns or "image_path" not in frame.columns or frame.empty:
            continue
        styles = frame["style_id"] if "style_id" in frame.columns else frame["image_path"].map(style_of)
        frame = frame.assign(_style=styles.fillna("").astype(str))
        ctx["blocks"].append({**block, **_group_block(view, name, frame, per_method)})
    return ctx


def _group_block(view: ReportView, name: str, frame: pd.DataFrame, per_method: int) -> dict[str, Any]:
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
    return {"stats": stats, "quality": grouping_quality(view.results.methods[name].get("grouping")),
            "strips": [_group_strip(view, frame, g) for g in shown]}


def _curve(view: ReportView, name: str) -> dict[str, Any] | None:
    """The grouping's precision-recall curve over thresholds with the chosen point, and what targets cost."""
    grouping = view.results.methods[name].get("grouping")
    curve = grouping.get("curve") if isinstance(grouping, dict) else None
    if not isinstance(curve, dict) or not curve.get("points"):
        return None
    reach = curve.get("recall_at_precision") or {}
    costs = " · ".join(f"precision {lv}: " + (f"recall {pct(float(v))}" if isinstance(v, (int, float))
                                              else "out of reach")
                       for lv, v in reach.items())
    chosen = curve.get("chosen")
    if isinstance(chosen, int) and 0 <= chosen < len(curve["points"]):
        p = curve["points"][chosen]
        costs += (f" · chosen ({curve.get('criterion', '')}): threshold {p['threshold']:.3f}, "
                  f"precision {pct(p['pair_precision'])}, recall {pct(p['pair_recall'])}")
    return {"method": str(curve.get("method", "")), "costs": costs,
            "chart": Markup(grouping_curve_chart(curve, view.colors[name]))}


def _group_strip(view: ReportView, frame: pd.DataFrame, group_id: Any) -> dict[str, Any]:
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
        tiles.append({"cls": "tile sm " + ("miss" if off else ""), "label": label,
                      "uri": view.thumbs.uri(row["image_path"], GROUP_PX)})
    facts = []
    if "product_id" in members.columns:
        facts.append(plural(members["product_id"].nunique(), "product"))
    if n_styles := members.loc[members["_style"] != "", "_style"].nunique():
        facts.append(plural(n_styles, "style"))
    return {"group": str(group_id), "images": len(members), "facts": " · ".join(facts), "tiles": tiles,
            "more": max(0, len(members) - GROUP_STRIP_MAX)}


def _style_lookup(view: ReportView) -> dict[str, str]:
    ids = view.results.test_ids
    if ids is None or "style_id" not in ids.columns:
        return {}
    return dict(zip(ids["image_path"].astype(str), ids["style_id"].astype(str), strict=True))


def _spread(n: int, k: int) -> list[int]:
    """``k`` evenly spaced positions out of ``n`` (all when ``n <= k``): a sample not chosen by result."""
    if n <= k:
        return list(range(n))
    return sorted({int(round(i * (n - 1) / (k - 1))) for i in range(k)}) if k > 1 else [0]


def _at(rows: list[list[Any]], i: int) -> list[Any]:
    return rows[i] if i < len(rows) else []


def _label(ids: pd.DataFrame, row: int) -> str:
    parts = []
    if "style_id" in ids.columns:
        parts.append(f"style {str(ids.at[row, 'style_id'])}")
    parts.append(f"product {str(ids.at[row, 'product_id'])}")
    return " · ".join(parts)
