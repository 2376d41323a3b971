"""Read a benchmark directory (what ``run_benchmark`` writes) into one object the HTML report draws from.

Layout read (every part but ``metrics.json`` is optional; what is missing is listed in ``notes`` and its
section of the report says so instead of failing)::

    DIR/metrics.json                     {"methods": {name: {...}}, "dataset": {...}, "config": {...}}
    DIR/runs/<method>/logs/metrics.csv   Lightning CSVLogger rows (sparse: each row fills some columns)
    DIR/embeddings/<method>/ids.parquet  the test split's id table (same row order for every method)
    DIR/neighbors.json                   {"root", "queries", "methods": {name: {"neighbors", "hits"}}}
    DIR/groups/<method>.csv              group_id, product_id, image_path, similarity_to_medoid (+ style_id)

>>> results = BenchmarkResults.load("runs/bench")   # doctest: +SKIP
>>> results.winner()                                 # doctest: +SKIP
'cvssl'
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from colorvariants.errors import ColorVariantsError
from colorvariants.report.choices import is_reference_row
from colorvariants.retrieval.store import IDS_FILE

ORIGINAL = "none"  # the ``preprocess`` of rows trained on the catalog as given (no --preprocess)
METRICS_FILE = "metrics.json"
NEIGHBORS_FILE = "neighbors.json"


class BenchmarkReadError(ColorVariantsError):
    """A benchmark directory lacks ``metrics.json`` or holds files that cannot be parsed."""


@dataclass
class EpochCurves:
    """Per-epoch training loss and validation recall@1 of one run (each a list of ``(epoch, value)``)."""

    loss: list[tuple[int, float]] = field(default_factory=list)
    val_recall: list[tuple[int, float]] = field(default_factory=list)


@dataclass
class Neighbors:
    """The gallery sample: query rows and, per method, each query's top neighbours and which are hits."""

    root: Path | None
    queries: list[int]
    neighbors: dict[str, list[list[int]]]
    hits: dict[str, list[list[bool]]]


@dataclass
class BenchmarkResults:
    """Everything the report shows, read from a benchmark directory; ``notes`` lists the parts missing."""

    bench_dir: Path
    methods: dict[str, dict[str, Any]]
    dataset: dict[str, Any]
    config: dict[str, Any]
    curves: dict[str, EpochCurves]
    test_ids: pd.DataFrame | None
    neighbors: Neighbors | None
    groups: dict[str, pd.DataFrame]
    notes: list[str] = field(default_factory=list)

    # -- reading --------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, bench_dir: str | Path) -> BenchmarkResults:
        """Read ``bench_dir``.

        Raises:
            BenchmarkReadError: no ``metrics.json``, or it is not the expected JSON object.
        """
        bench_dir = Path(bench_dir)
        metrics_path = bench_dir / METRICS_FILE
        if not metrics_path.is_file():
            raise BenchmarkReadError(
                f"{metrics_path}: not found, so {bench_dir} is not a finished benchmark directory. "
                "Fix: pass the folder `colorvariants benchmark --out` wrote (it writes metrics.json last)."
            )
        data = _read_json(metrics_path)
        if not isinstance(data, dict) or not isinstance(data.get("methods"), dict) or not data["methods"]:
            raise BenchmarkReadError(
                f"{metrics_path}: expected an object with a non-empty 'methods' mapping. "
                "Fix: rerun the benchmark; this file is written by it, not by hand."
            )
        methods = {str(k): dict(v) for k, v in data["methods"].items()}
        notes: list[str] = []
        curves = {}
        for name in methods:
            csv = bench_dir / "runs" / name / "logs" / "metrics.csv"
            if csv.is_file():
                curves[name] = read_epoch_curves(csv)
        test_ids = _read_ids(bench_dir, methods, notes)
        neighbors = _read_neighbors(bench_dir, notes)
        groups = {}
        for name in methods:
            path = bench_dir / "groups" / f"{name}.csv"
            if path.is_file():
                ids_as_text = {"product_id": str, "style_id": str, "image_path": str}
                groups[name] = pd.read_csv(path, dtype=ids_as_text, keep_default_na=False)
        if not groups:
            notes.append("no colour-variant groups (DIR/groups/<method>.csv) were found.")
        return cls(bench_dir, methods, dict(data.get("dataset") or {}), dict(data.get("config") or {}),
                   curves, test_ids, neighbors, groups, notes)

    # -- questions the report asks ------------------------------------------------------------------------
    def is_reference(self, name: str) -> bool:
        """Whether a row is a reference (untrained backbone, colour histogram), not a trained method."""
        m = self.methods.get(name, {})
        if m.get("reference") is not None:
            return bool(m["reference"])
        return is_reference_row(name)

    def preprocess_of(self, name: str) -> str:
        """How a row's images were prepared: ``"none"`` (as given) or e.g. ``"bg-floodfill"``."""
        return str(self.methods.get(name, {}).get("preprocess") or ORIGINAL)

    def base_of(self, name: str) -> str:
        """The method or reference a row runs (``cvssl`` for ``cvssl+bg-floodfill``)."""
        return str(self.methods.get(name, {}).get("base") or name)

    def preprocess_pairs(self) -> dict[str, dict[str, str]]:
        """``{base: {preprocess: row name}}`` for every base run on more than one catalog version (the
        "original vs background removed" comparison), in file order."""
        pairs: dict[str, dict[str, str]] = {}
        for name in self.methods:
            pairs.setdefault(self.base_of(name), {})[self.preprocess_of(name)] = name
        return {base: rows for base, rows in pairs.items() if len(rows) > 1}

    def metric(self, name: str, key: str) -> float:
        """A metric of a method as a float (NaN when absent or not a number)."""
        value = self.methods.get(name, {}).get(key)
        try:
            out = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return math.nan
        return out

    def ranked(self, key: str = "recall@1") -> list[str]:
        """Method names by ``key``, best first; methods without the metric last, in file order."""
        names = list(self.methods)
        return sorted(names, key=lambda n: (math.isnan(self.metric(n, key)),
                                            -_nan_to(self.metric(n, key), 0.0)))

    def winner(self, key: str = "recall@1") -> str | None:
        """The method with the highest ``key`` (references included: an honest report says if one wins)."""
        ranked = [n for n in self.ranked(key) if not math.isnan(self.metric(n, key))]
        return ranked[0] if ranked else None

    @property
    def image_root(self) -> Path | None:
        """Where ``image_path`` values hang from: neighbors.json's root, else the dataset's ``root``."""
        if self.neighbors is not None and self.neighbors.root is not None:
            return self.neighbors.root
        return _resolve_root(self.dataset.get("root") or self.config.get("root"), self.bench_dir)


def read_epoch_curves(csv_path: str | Path) -> EpochCurves:
    """Per-epoch loss and validation recall@1 from a Lightning CSVLogger ``metrics.csv``.

    Rows are sparse (a step row holds ``train/loss_step``, an epoch-end row ``train/loss_epoch``, a validation
    row ``val/recall@1``). The epoch loss is ``train/loss_epoch`` (or ``train/loss``) when logged, else the
    mean of that epoch's step losses.
    """
    try:
        frame = pd.read_csv(csv_path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise BenchmarkReadError(f"{csv_path}: cannot parse the training log ({exc}).") from exc
    curves = EpochCurves()
    if "epoch" not in frame.columns:
        return curves
    for column in ("train/loss_epoch", "train/loss"):
        if column in frame.columns and frame[column].notna().any():
            curves.loss = _per_epoch(frame, column, "last")
            break
    else:
        if "train/loss_step" in frame.columns:
            curves.loss = _per_epoch(frame, "train/loss_step", "mean")
    if "val/recall@1" in frame.columns:
        curves.val_recall = _per_epoch(frame, "val/recall@1", "last")
    return curves


def _per_epoch(frame: pd.DataFrame, column: str, how: str) -> list[tuple[int, float]]:
    sub = frame[["epoch", column]].apply(pd.to_numeric, errors="coerce").dropna()
    if sub.empty:
        return []
    grouped = sub.groupby("epoch")[column]
    values = grouped.mean() if how == "mean" else grouped.last()
    return [(int(e), float(v)) for e, v in values.items() if math.isfinite(float(v))]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BenchmarkReadError(f"{path}: cannot parse JSON ({exc}). Fix: rerun the benchmark.") from exc


def _read_ids(bench_dir: Path, methods: dict[str, dict[str, Any]], notes: list[str]) -> pd.DataFrame | None:
    """The test split's id table from the first method whose embedding set has one (all share row order)."""
    for name in methods:
        path = bench_dir / "embeddings" / name / IDS_FILE
        if path.is_file():
            ids = pd.read_parquet(path)
            for col in ("image_path", "product_id", "style_id"):
                if col in ids.columns:
                    ids[col] = ids[col].fillna("").astype(str)
            return ids.reset_index(drop=True)
    notes.append("no embedding id table (DIR/embeddings/<method>/ids.parquet) was found.")
    return None


def _read_neighbors(bench_dir: Path, notes: list[str]) -> Neighbors | None:
    path = bench_dir / NEIGHBORS_FILE
    if not path.is_file():
        notes.append("no neighbour sample (DIR/neighbors.json) was found, so there is no gallery.")
        return None
    data = _read_json(path)
    methods = data.get("methods") or {}
    return Neighbors(
        root=_resolve_root(data.get("root"), bench_dir),
        queries=[int(q) for q in data.get("queries") or []],
        neighbors={str(k): [[int(i) for i in row] for row in v.get("neighbors", [])]
                   for k, v in methods.items()},
        hits={str(k): [[bool(h) for h in row] for row in v.get("hits", [])] for k, v in methods.items()},
    )


def _resolve_root(root: str | None, bench_dir: Path) -> Path | None:
    """An image root as written; a relative one is tried against the working directory, then the bench dir and
    the folders above it (the benchmark may have run from any of them)."""
    if not root:
        return None
    path = Path(root)
    if path.is_absolute() or path.is_dir():
        return path
    # Written relative to the folder the benchmark ran in: try the bench dir and each folder above it.
    for base in (bench_dir, *bench_dir.resolve().parents):
        if (base / path).is_dir():
            return base / path
    return path


def _nan_to(value: float, default: float) -> float:
    return default if math.isnan(value) else value
