"""Stable group ids across catalog updates: carry the ids of a previous ``dedup`` output onto new groups.

A new group inherits a previous group's id when each is the other's largest overlap (images matched on
``image_path``); every other new group gets a fresh id above all previous ones. So an unchanged group keeps its
id, a group that gained new products keeps its id, and what changed is reported: *merges* (a new group holding
images of several previous groups: it keeps the id of the largest share), *splits* (a previous group spread over
several new groups: the largest piece keeps the id) and *retired* ids (previous groups that no piece inherited).

>>> frame, changes = carry_group_ids(result.frame, pd.read_csv("groups_last_week.csv"))   # doctest: +SKIP
>>> changes["merges"][:1]                                                                 # doctest: +SKIP
[{'group_id': 17, 'from': [17, 204]}]
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from colorvariants.errors import EmbeddingError

KEY = "image_path"


def read_previous(path: str | Path) -> pd.DataFrame:
    """A previous groups file (.csv, .parquet or .json) with ``image_path`` and integer ``group_id``.

    Raises:
        EmbeddingError: missing file, missing columns, or non-integer group ids (names the file and the fix).
    """
    path = Path(path)
    readers: dict[str, Callable[[Path], pd.DataFrame]] = {
        ".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pq": pd.read_parquet, ".json": pd.read_json,
    }
    reader = readers.get(path.suffix.lower())
    if reader is None or not path.is_file():
        raise EmbeddingError(
            f"{path}: no previous groups file there (.csv, .parquet or .json written by dedup).",
            fix="pass the groups file of the last run, or drop --previous.",
        )
    frame = reader(path)
    missing = [c for c in (KEY, "group_id") if c not in frame.columns]
    if missing:
        raise EmbeddingError(
            f"{path}: columns {missing} missing; it is not a dedup groups file.",
            fix="pass the file dedup --out wrote.",
        )
    ids = pd.to_numeric(frame["group_id"], errors="coerce")
    if ids.isna().any() or (ids % 1 != 0).any():
        bad = ids.isna() if ids.isna().any() else (ids % 1) != 0
        row = int(bad.to_numpy().argmax())  # the first bad row's position
        raise EmbeddingError(
            f"{path}: row {row + 2}: group_id {frame['group_id'].iloc[row]!r} is not an integer.",
            fix="pass the file dedup --out wrote.",
        )
    return frame.assign(group_id=ids.astype("int64"))


def carry_group_ids(frame: pd.DataFrame, previous: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``frame`` (a dedup output) with group ids carried over from ``previous``, and what changed."""
    cur = frame[[KEY, "group_id"]].astype({KEY: str})
    prev = previous[[KEY, "group_id"]].astype({KEY: str}).drop_duplicates(KEY)
    matched = cur.merge(prev, on=KEY, how="inner", suffixes=("", "_prev"))
    overlap = matched.groupby(["group_id", "group_id_prev"]).size().rename("n").reset_index()
    best_prev = overlap.sort_values(["n", "group_id_prev"], ascending=[False, True]).drop_duplicates("group_id")
    best_new = overlap.sort_values(["n", "group_id"], ascending=[False, True]).drop_duplicates("group_id_prev")
    inherit = best_prev.merge(best_new, on=["group_id", "group_id_prev", "n"])
    mapping = dict(zip(inherit["group_id"], inherit["group_id_prev"], strict=True))
    next_id = int(prev["group_id"].max()) + 1 if len(prev) else 0
    for g in pd.unique(frame["group_id"]):
        if g not in mapping:
            mapping[g] = next_id
            next_id += 1
    out = frame.copy()
    out["group_id"] = out["group_id"].map(mapping).astype("int64")
    sort = [c for c in ("group_id", "similarity_to_medoid", "row") if c in out.columns]
    out = out.sort_values(sort, ascending=[True] + [False, True][: len(sort) - 1], kind="stable")

    sources = overlap.groupby("group_id")["group_id_prev"].apply(lambda s: sorted(int(v) for v in s))
    pieces = overlap.groupby("group_id_prev")["group_id"].apply(lambda s: sorted(int(mapping[v]) for v in s))
    prev_members = prev.groupby("group_id")[KEY].apply(frozenset)
    cur_members = cur.assign(group_id=cur["group_id"].map(mapping)).groupby("group_id")[KEY].apply(frozenset)
    kept = [g for g in set(mapping[g] for g in inherit["group_id"]) if cur_members[g] == prev_members.get(g)]
    changes: dict[str, Any] = {
        "previous_groups": int(prev["group_id"].nunique()),
        "groups": int(out["group_id"].nunique()),
        "unchanged": len(kept),
        "kept_id": len(inherit),
        "new_ids": int(next_id - (int(prev["group_id"].max()) + 1 if len(prev) else 0)),
        "images_new": int((~cur[KEY].isin(prev[KEY])).sum()),
        "merges": [{"group_id": int(mapping[g]), "from": s} for g, s in sources.items() if len(s) > 1],
        "splits": [{"from": int(p), "into": s} for p, s in zip(pieces.index.tolist(), pieces, strict=True)
                   if len(s) > 1],
        "retired": sorted(int(p) for p in set(prev["group_id"]) - set(inherit["group_id_prev"])),
    }
    return out.reset_index(drop=True), changes
