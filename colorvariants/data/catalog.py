"""The catalog manifest: which image shows which product (one colour of a design) and which style (the design).

A manifest is CSV or Parquet with ``image_path`` (relative to an image root) and ``product_id``; optional
``style_id`` (products sharing it are colour variants), ``color``, ``split``, ``mask_path`` (foreground mask,
relative to the root) and a product bounding box ``bbox_x0, bbox_y0, bbox_x1, bbox_y1`` in pixels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from colorvariants.data.problems import Problem
from colorvariants.errors import ManifestError

REQUIRED_COLUMNS = ("image_path", "product_id")
ID_COLUMNS = ("image_path", "product_id", "style_id", "color", "split", "mask_path")
BBOX_COLUMNS = ("bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1")
# The problem code of a path column pointing outside the image root.
ESCAPE_CODES = {"image_path": "path-escapes-root", "mask_path": "mask-path-escapes-root"}
DEFAULT_FRACTIONS: Mapping[str, float] = {"train": 0.7, "val": 0.1, "test": 0.2}


def read_manifest_frame(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet manifest as strings (ids stay ids: ``007`` is not the number 7)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError("manifest not found.", file=path, fix="pass the path of a .csv or .parquet manifest.")
    suffix = path.suffix.lower()
    sep = "\t" if suffix == ".tsv" else ","
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            header = [str(c).strip() for c in frame.columns]
        elif suffix in (".csv", ".tsv", ".txt"):
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
            # pandas renames a repeated column to "name.1"; the raw header line shows the repeat
            raw = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False)
            header = [str(c).strip() for c in raw.iloc[0].tolist()] if len(raw) else []
        else:
            raise ManifestError(
                f"unknown manifest format {suffix!r}.", file=path, fix="save the manifest as .csv or .parquet."
            )
    except ManifestError:
        raise
    except Exception as exc:  # pandas raises many types for malformed files
        raise ManifestError(f"cannot parse manifest: {exc}", file=path, fix="check it is valid CSV/Parquet.") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    repeated = sorted({c for c in header if c and header.count(c) > 1})
    if repeated:
        raise ManifestError(
            f"column(s) {repeated} appear more than once in the header, so which one holds the data is "
            "ambiguous.", file=path, fix="keep one column of each name (rename or delete the others).",
        )
    if "row" in frame.columns:  # Catalog keeps each line's number in "row"; a user column would replace it
        raise ManifestError(
            "the column name 'row' is reserved: the tool numbers manifest rows itself in it.", file=path,
            fix="rename the column (e.g. to row_id); it is kept as an ordinary column.",
        )
    for col in ID_COLUMNS:
        if col in frame.columns:
            frame[col] = frame[col].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip())
    for col in BBOX_COLUMNS:
        if col in frame.columns:
            frame[col] = pd.to_numeric(frame[col].replace("", np.nan), errors="coerce")
    return frame


def header_hint(found: Sequence[str], missing: Sequence[str]) -> str:
    """The likely cause of missing columns: another delimiter, or the right names spelt differently."""
    for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
        if len(found) == 1 and sep in found[0]:
            return (f"the file is separated by {name}, not commas (the header was read as one column): save it "
                    "as comma-separated CSV (or as .tsv for tabs).")
    renames = {c: want for c in found for want in missing
               if c != want and "_".join(c.strip().lower().replace("-", " ").split()) == want}
    if renames:
        return "rename the column(s) " + ", ".join(f"{c!r} to {w!r}" for c, w in renames.items()) + \
            " (names are exact, lower case with underscores)."
    return ""


@dataclass
class Catalog:
    """A validated manifest bound to its image root.

    ``frame`` has one row per image, a fresh 0..N-1 index, string id columns, and ``row``: the 1-based data
    row of the source manifest, so every message can point back at the line a user must fix.

    >>> cat = Catalog.load("manifest.csv", root="images/")  # doctest: +SKIP
    >>> train = cat.assign_splits(seed=0).split("train")      # doctest: +SKIP
    """

    frame: pd.DataFrame
    root: Path
    source: Path | None = None
    allow_outside_root: bool = False
    _resolved_root: Path = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self._resolved_root = self.root.resolve()
        self.frame = self.frame.reset_index(drop=True)

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def load(
        cls, manifest: str | Path, root: str | Path | None = None, *, allow_outside_root: bool = False
    ) -> Catalog:
        """Load and structurally check a manifest; ``root`` defaults to the manifest's folder.

        Raises:
            ManifestError: missing columns, empty ids, a product under two styles, duplicate rows, or a path
                that escapes the root (unless ``allow_outside_root``). The message names the rows and the fix.
        """
        manifest = Path(manifest)
        frame = read_manifest_frame(manifest)
        return cls.from_frame(
            frame, root if root is not None else manifest.parent, source=manifest, allow_outside_root=allow_outside_root
        )

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        root: str | Path,
        *,
        source: Path | None = None,
        allow_outside_root: bool = False,
        check: bool = True,
    ) -> Catalog:
        """Build from a DataFrame (columns as in a manifest); raises ``ManifestError`` on structural errors."""
        frame = frame.copy()
        if "row" not in frame.columns:
            frame["row"] = np.arange(1, len(frame) + 1)
        cat = cls(frame=frame, root=Path(root), source=source, allow_outside_root=allow_outside_root)
        if check:
            errors = [p for p in cat.structural_problems() if p.severity == "error"]
            if errors:
                shown = "\n  ".join(str(p) for p in errors[:20])
                more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
                raise ManifestError(
                    f"{len(errors)} problem(s) in the manifest:\n  {shown}{more}",
                    file=source,
                    fix="correct the rows above, or run `colorvariants validate` for the full report.",
                )
        return cat

    # -- checks -------------------------------------------------------------------------------------------
    def structural_problems(self) -> list[Problem]:
        """Problems visible from the manifest alone (no file is opened)."""
        problems: list[Problem] = []
        src = str(self.source) if self.source else None
        missing = [c for c in REQUIRED_COLUMNS if c not in self.frame.columns]
        if missing:
            found = [c for c in self.frame.columns if c != "row"]  # "row" is ours, not the user's
            problems.append(
                Problem(
                    "error",
                    "missing-column",
                    f"required column(s) {missing} missing; found {found}.",
                    fix=header_hint(found, missing)
                    or "add the column(s) with a header line: image_path,product_id[,style_id,color,split].",
                    file=src,
                )
            )
            return problems
        f = self.frame
        for col in REQUIRED_COLUMNS:
            for row in f.loc[f[col] == "", "row"].tolist():
                problems.append(
                    Problem("error", f"empty-{col.replace('_', '-')}", f"{col} is empty.",
                            fix=f"fill in {col} or delete the row.", row=int(row), file=src)
                )
        dup = f[f["image_path"] != ""].duplicated(subset=["image_path", "product_id"], keep="first")
        for row, path in f.loc[dup[dup].index, ["row", "image_path"]].itertuples(index=False):
            problems.append(
                Problem("error", "duplicate-row", f"image {path!r} is listed twice for the same product.",
                        fix="delete the repeated row.", row=int(row), file=src)
            )
        if "style_id" in f.columns:
            styled = f[(f["style_id"] != "") & (f["product_id"] != "")]
            n_styles = styled.groupby("product_id")["style_id"].nunique()
            for pid in n_styles[n_styles > 1].index:
                rows = styled.loc[styled["product_id"] == pid]
                problems.append(
                    Problem(
                        "error",
                        "product-in-two-styles",
                        f"product_id {pid!r} has style_ids {sorted(rows['style_id'].unique())}.",
                        fix="a product (one colour of one design) belongs to exactly one style: correct style_id.",
                        row=int(rows["row"].iloc[0]),
                        file=src,
                    )
                )
        for col in ("image_path", "mask_path"):
            if col not in f.columns:
                continue
            nul = f[col].astype(str).str.contains("\x00", regex=False)
            for row, path in f.loc[nul, ["row", col]].itertuples(index=False):
                problems.append(
                    Problem("error", "nul-in-path", f"{col} {path!r} holds a NUL character.",
                            fix="correct the path (a NUL often means another encoding was saved).",
                            row=int(row), file=src)
                )
        if not self.allow_outside_root:
            outside = [p for p in set(f["image_path"].tolist())  # each distinct path resolved once
                       if p and "\x00" not in p and self.escapes_root(p)]
            for row, path in f.loc[f["image_path"].isin(outside), ["row", "image_path"]].itertuples(index=False):
                problems.append(self.escape_problem("image_path", path, int(row)))
        return problems

    # -- the image root ----------------------------------------------------------------------------------
    def escapes_root(self, rel: str) -> bool:
        """Whether ``rel`` (an ``image_path`` or ``mask_path``) points outside the image root, where not allowed.

        The one "is this path inside the image root" check: the catalog's own checks, validation and the image
        cache all ask it. Links are resolved (a symlink out of the root escapes); always False with
        ``allow_outside_root``.
        """
        if self.allow_outside_root:
            return False
        target = (self._resolved_root / rel).resolve()
        return not (target == self._resolved_root or self._resolved_root in target.parents)

    def escape_problem(self, column: str, rel: str, row: int | None) -> Problem:
        """The error for ``column`` (``image_path``/``mask_path``) = ``rel`` escaping the root, at manifest ``row``.

        Its code is ``path-escapes-root`` for an image, ``mask-path-escapes-root`` for a mask.
        """
        return Problem(
            "error", ESCAPE_CODES[column], f"{column} {rel!r} points outside the image root {str(self.root)!r}.",
            fix="use a path relative to --root, or pass --allow-outside-root if intended.",
            row=row, file=str(self.source) if self.source else None,
        )

    # -- access ------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.frame)

    def _text(self, i: int, column: str) -> str:
        """The cell of an id column as text (``read_manifest_frame`` makes every id cell a ``str``)."""
        return str(self.frame.at[i, column])

    def path_of(self, i: int) -> Path:
        """Absolute path of the i-th image."""
        return self.root / self._text(i, "image_path")

    @property
    def paths(self) -> list[Path]:
        return [self.root / p for p in self.frame["image_path"].tolist()]

    @property
    def has_styles(self) -> bool:
        return "style_id" in self.frame.columns and bool((self.frame["style_id"] != "").all())

    @property
    def style_ids(self) -> np.ndarray:
        """Style of each image; a product without style_id is its own style (it has no known variants)."""
        if "style_id" not in self.frame.columns:
            return self.frame["product_id"].to_numpy(dtype=object)
        s = self.frame["style_id"].where(self.frame["style_id"] != "", "product:" + self.frame["product_id"])
        return s.to_numpy(dtype=object)

    def style_labels(self) -> np.ndarray:
        """Integer style label per image (0..S-1, by sorted style id)."""
        return pd.factorize(pd.Series(self.style_ids), sort=True)[0].astype(np.int64)

    def product_labels(self) -> np.ndarray:
        """Integer product label per image (0..P-1, by sorted product id)."""
        return pd.factorize(self.frame["product_id"], sort=True)[0].astype(np.int64)

    def has_bbox(self) -> bool:
        return all(c in self.frame.columns for c in BBOX_COLUMNS)

    def has_masks(self) -> bool:
        return "mask_path" in self.frame.columns and bool((self.frame["mask_path"] != "").all())

    def mask_path_of(self, i: int) -> Path | None:
        if "mask_path" not in self.frame.columns or not self._text(i, "mask_path"):
            return None
        return self.root / self._text(i, "mask_path")

    # -- subsets and splits ------------------------------------------------------------------------------
    def subset(self, selector: Sequence[int] | np.ndarray | pd.Series) -> Catalog:
        """A catalog of the selected rows (integer positions or a boolean mask), same root."""
        sel = np.asarray(selector)
        rows = self.frame[sel] if sel.dtype == bool else self.frame.iloc[sel]
        return Catalog(rows.reset_index(drop=True), self.root, self.source, self.allow_outside_root)

    def split_names(self) -> list[str]:
        return sorted(self.frame["split"].unique().tolist()) if "split" in self.frame.columns else []

    def split(self, name: str) -> Catalog:
        """The rows of one split; raises if the manifest has no such split (an empty split is never silent)."""
        if "split" not in self.frame.columns or not (self.frame["split"] != "").any():
            raise ManifestError(
                "the manifest has no 'split' column.", file=self.source,
                fix="add one, or call assign_splits() / pass --assign-splits to split by style from a seed.",
            )
        sub = self.subset(self.frame["split"] == name)
        if len(sub) == 0:
            raise ManifestError(
                f"split {name!r} is empty; splits present: {self.split_names()}.", file=self.source,
                fix="choose one of the splits present, or re-split the catalog.",
            )
        return sub

    def assign_splits(
        self, fractions: Mapping[str, float] = DEFAULT_FRACTIONS, seed: int = 0, overwrite: bool = False
    ) -> Catalog:
        """Assign ``split`` by style (never by image) reproducibly from ``seed``; keeps an existing split unless
        ``overwrite``. All images of a style land in one split, so evaluation uses designs never trained on."""
        if "split" in self.frame.columns and (self.frame["split"] != "").all() and not overwrite:
            return self
        total = float(sum(fractions.values()))
        if total <= 0:
            raise ValueError("split fractions must sum to a positive number")
        styles = np.array(sorted(set(self.style_ids.tolist())), dtype=object)
        order = np.random.default_rng(seed).permutation(len(styles))
        names = list(fractions)
        bounds = np.cumsum([fractions[n] / total for n in names]) * len(styles)
        bounds = np.round(bounds).astype(int)
        assignment: dict[str, str] = {}
        start = 0
        for name, end in zip(names, bounds, strict=True):
            for j in order[start:end]:
                assignment[styles[j]] = name
            start = end
        frame = self.frame.copy()
        frame["split"] = [assignment.get(s, names[-1]) for s in self.style_ids]
        return Catalog(frame, self.root, self.source, self.allow_outside_root)

    # -- identity and saving -----------------------------------------------------------------------------
    def fingerprint(self) -> str:
        """A short hash of the image list and root: keys caches so a changed manifest never reads stale pixels."""
        h = hashlib.sha1()
        h.update(str(self._resolved_root).encode())
        for path in self.frame["image_path"].tolist():
            h.update(b"\0" + path.encode())
        return h.hexdigest()[:16]

    def file_columns(self) -> list[str]:
        """The path columns whose files the pixels come from: ``image_path``, and ``mask_path`` when present."""
        return [c for c in ("image_path", "mask_path") if c in self.frame.columns]

    def file_stats(self) -> np.ndarray:
        """(N, 2 per ``file_columns``) int64: size and mtime_ns of each row's image (then mask) file.

        One ``os.stat`` per distinct file; a missing file reads as ``file_stats.MISSING`` (never raises).
        """
        from colorvariants.data.file_stats import file_stats

        parts = [file_stats(self.root, self.frame[c].astype(str).tolist()) for c in self.file_columns()]
        return np.hstack(parts) if parts else np.zeros((len(self), 0), dtype=np.int64)

    def files_fingerprint(self, stats: np.ndarray | None = None) -> str:
        """A short hash of ``file_stats()``: changes when an image or mask is replaced in place (same path)."""
        from colorvariants.data.file_stats import stats_digest

        return stats_digest(self.file_stats() if stats is None else stats)

    def file_at(self, i: int, stats_column: int) -> Path:
        """The file behind column ``stats_column`` of ``file_stats()`` in row ``i``."""
        return self.root / self._text(i, self.file_columns()[stats_column // 2])

    def changed_file(self, old: np.ndarray, new: np.ndarray | None = None) -> Path | None:
        """The first file whose stats differ between ``old`` and ``new`` (default: now), or None."""
        new = self.file_stats() if new is None else new
        if old.shape != new.shape:
            return self.path_of(0) if len(self) else None
        rows, cols = np.nonzero(old != new)
        return self.file_at(int(rows[0]), int(cols[0])) if len(rows) else None

    def file_changed_after(self, time_ns: int, stats: np.ndarray | None = None) -> Path | None:
        """The first file modified after ``time_ns`` (names an image replaced since an output was written)."""
        stats = self.file_stats() if stats is None else stats
        rows, cols = np.nonzero(stats[:, 1::2] > time_ns)
        return self.file_at(int(rows[0]), 2 * int(cols[0])) if len(rows) else None

    def save(self, dest: str | Path) -> None:
        """Write the manifest (CSV or Parquet by extension) atomically; the ``row`` column is not written."""
        from colorvariants.io import atomic_path

        dest = Path(dest)
        frame = self.frame.drop(columns=["row"], errors="ignore")
        with atomic_path(dest, suffix=dest.suffix) as tmp:
            if dest.suffix.lower() in (".parquet", ".pq"):
                frame.to_parquet(tmp, index=False)
            else:
                frame.to_csv(tmp, index=False)
