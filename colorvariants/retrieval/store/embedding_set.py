"""The embedding set: vectors + the id table of their images + metadata, validated, saved and loaded as a folder.

Layout (docs/ARCHITECTURE.md, "Embedding set")::

    E/embeddings.npy   float32 (N, D), rows L2-normalised
    E/ids.parquet      one row per vector, same order: image_path, product_id (+ style_id, split, ...)
    E/meta.json        format, version, dim, count (+ method, checkpoint, ...); written last
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from colorvariants.errors import EmbeddingError
from colorvariants.io import atomic_path, create_npy, write_json
from colorvariants.metafile import META_FILE, MetaFormat, read_meta
from colorvariants.retrieval.recorded_files import check_recorded_files
from colorvariants.retrieval.store.vectors import VectorCheck, check_vectors, normalize_rows

FORMAT = "colorvariants.embeddings"
VERSION = 1
EMBEDDINGS_FILE = "embeddings.npy"
IDS_FILE = "ids.parquet"
EMBEDDINGS_META = MetaFormat(
    FORMAT, VERSION, "embedding set", EmbeddingError,
    writer="`colorvariants embed`", unfinished="an export stopped before its last step", other="an index folder?",
)
REQUIRED_ID_COLUMNS = ("image_path", "product_id")
# Columns written as strings: ids stay ids ("007" is not 7), as in the manifest.
STRING_ID_COLUMNS = ("image_path", "product_id", "style_id", "color", "split", "mask_path")
# Keys of meta.json the store owns; user metadata cannot override them.
RESERVED_META_KEYS = ("format", "version", "dim", "count", "dtype", "normalized", "files")


@dataclass
class EmbeddingSet:
    """Vectors ``(N, D)`` float32, their id table (one row per vector, same order) and metadata.

    Args:
        vectors: float32 ``(N, D)``; a ``np.memmap`` stays memory-mapped.
        ids: at least ``image_path`` and ``product_id`` (plus ``style_id``, ``split`` when known).
        meta: free metadata (``method``, ``checkpoint``, ...); ``format``, ``version``, ``dim`` and ``count``
            are set on save.

    Raises:
        EmbeddingError: vectors are not 2-D or their row count differs from the id table's.
    """

    vectors: np.ndarray
    ids: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    # Whether ``validate`` passed on these vectors (sets made from validated ones inherit it).
    checked: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.vectors, np.ndarray):
            self.vectors = np.asarray(self.vectors)
        if self.vectors.ndim != 2:
            raise EmbeddingError(f"embeddings must be a 2-D (N, D) array; got shape {self.vectors.shape}.")
        if self.vectors.dtype != np.float32:
            self.vectors = self.vectors.astype(np.float32)
        if len(self.ids) != self.vectors.shape[0]:
            raise EmbeddingError(
                f"{self.vectors.shape[0]} vectors but {len(self.ids)} id rows: each vector needs exactly one "
                "id row.",
                fix="re-export the embeddings so vectors and ids.parquet are written together.",
            )
        self.ids = self.ids.reset_index(drop=True)
        self.meta = dict(self.meta)

    # -- shape ---------------------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def count(self) -> int:
        return int(self.vectors.shape[0])

    def __len__(self) -> int:
        return self.count

    @property
    def normalized(self) -> bool:
        """Whether the rows are known to be L2-normalised (checked on load and on save)."""
        return bool(self.meta.get("normalized", False))

    def unit_vectors(self) -> np.ndarray:
        """The rows L2-normalised: the stored array when it already is (no copy), else a normalised copy."""
        if self.normalized:
            return self.vectors
        return normalize_rows(self.vectors)

    # -- validation ----------------------------------------------------------------------------------------
    def validate(self, source: str | Path | None = None) -> VectorCheck:
        """Raise ``EmbeddingError`` naming the rows with NaN/inf or zero vectors, and the id columns missing.

        On success, records in ``meta["normalized"]`` whether every row has unit norm and returns the scan.
        """
        where = f"{source}: " if source else ""
        missing = [c for c in REQUIRED_ID_COLUMNS if c not in self.ids.columns]
        if missing:
            raise EmbeddingError(
                f"{where}the id table lacks column(s) {missing}; found {list(self.ids.columns)}.",
                fix="give one row per vector with at least image_path and product_id.",
            )
        check = check_vectors(self.vectors)
        if check.nonfinite_rows.size:
            rows = self._describe_rows(check.nonfinite_rows)
            raise EmbeddingError(
                f"{where}{check.nonfinite_rows.size} vector(s) hold NaN or inf: {rows}.",
                fix="the model diverged or an image failed to decode; re-embed these images (or drop their "
                    "rows from both the vectors and ids) with a checkpoint whose loss is finite.",
            )
        if check.zero_rows.size:
            rows = self._describe_rows(check.zero_rows)
            raise EmbeddingError(
                f"{where}{check.zero_rows.size} vector(s) are all zeros (no direction, so no cosine "
                f"similarity): {rows}.",
                fix="re-embed these images, or drop their rows from both the vectors and ids.",
            )
        self.meta["normalized"] = check.normalized
        self.checked = True
        return check

    def ensure_valid(self) -> EmbeddingSet:
        """``validate`` unless it already passed (on load, or on the set this one was selected from); ``self``.

        Every consumer that computes numbers (evaluate, index build, dedup) calls it, so NaN/inf or zero rows in
        a set built in memory raise the same clear error as on load instead of yielding a wrong metric.
        """
        if not self.checked:
            self.validate()
        return self

    def with_ids(self, ids: pd.DataFrame) -> EmbeddingSet:
        """The same vectors (validated or not) under another id table of the same length."""
        out = EmbeddingSet(self.vectors, ids, dict(self.meta))
        out.checked = self.checked
        return out

    def _describe_rows(self, rows: np.ndarray, limit: int = 10) -> str:
        shown = []
        for r in rows[:limit].tolist():
            path = self.ids["image_path"].iloc[r] if "image_path" in self.ids.columns else None
            shown.append(f"row {r}" + (f" ({path})" if path is not None else ""))
        more = f", ... and {rows.size - limit} more" if rows.size > limit else ""
        return ", ".join(shown) + more

    # -- selection -----------------------------------------------------------------------------------------
    def subset(self, rows: Sequence[int] | np.ndarray) -> EmbeddingSet:
        """A new set of the selected rows (integer positions or a boolean mask); vectors copied into RAM."""
        sel = np.asarray(rows)
        if sel.dtype == bool:
            sel = np.flatnonzero(sel)
        sel = sel.astype(np.int64)
        ids = self.ids.iloc[sel].reset_index(drop=True)
        out = EmbeddingSet(np.asarray(self.vectors[sel]), ids, dict(self.meta))
        out.checked = self.checked
        return out

    def split(self, name: str) -> EmbeddingSet:
        """The rows of one split (the ``split`` id column); raises when it is absent or empty."""
        if "split" not in self.ids.columns:
            raise EmbeddingError(
                "the embedding set has no 'split' column in ids.parquet, so split "
                f"{name!r} cannot be selected.",
                fix="pass --manifest with a split column, or drop --split.",
            )
        mask = (self.ids["split"].astype(str) == name).to_numpy()
        if not mask.any():
            present = sorted(self.ids["split"].astype(str).unique().tolist())
            raise EmbeddingError(
                f"split {name!r} is empty; splits present: {present}.",
                fix="choose one of those.",
            )
        return self.subset(mask)

    @classmethod
    def concatenate(cls, parts: Iterable[EmbeddingSet], meta: dict[str, Any] | None = None) -> EmbeddingSet:
        """Stack sets in order (e.g. the shards of one run); dims must agree, id columns are unioned."""
        parts = list(parts)
        if not parts:
            raise EmbeddingError("no embedding sets to concatenate.")
        dims = {p.dim for p in parts}
        if len(dims) != 1:
            raise EmbeddingError(f"cannot concatenate embedding sets of different dims {sorted(dims)}.")
        ids = pd.concat([p.ids for p in parts], ignore_index=True)
        for col in ids.columns:
            if col in STRING_ID_COLUMNS:
                ids[col] = ids[col].fillna("")
        merged = dict(parts[0].meta if meta is None else meta)
        merged["normalized"] = all(p.normalized for p in parts)
        out = cls(np.concatenate([np.asarray(p.vectors) for p in parts], axis=0), ids, merged)
        out.checked = all(p.checked for p in parts)
        return out

    # -- disk ----------------------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the set to ``directory`` atomically: validate, then vectors (normalised), ids, and meta last.

        Rows are L2-normalised on the way out (the contract of ``embeddings.npy``). An existing set in the
        folder is replaced; its ``meta.json`` is removed first so an interrupted save never leaves a loadable
        mix.

        Raises:
            EmbeddingError: NaN/inf or zero rows, or missing id columns (nothing is written).
        """
        directory = Path(directory)
        check = self.validate()
        directory.mkdir(parents=True, exist_ok=True)
        # Both files are written in full to temp files first: a full disk or a kill then leaves an older set whole.
        with atomic_path(directory / EMBEDDINGS_FILE, suffix=".npy") as tmp_npy, \
                atomic_path(directory / IDS_FILE, suffix=".parquet") as tmp_ids:
            out = create_npy(tmp_npy, np.float32, self.vectors.shape)
            normalize_rows(self.vectors, out=out)
            out.flush()
            del out
            ids_for_disk(self.ids).to_parquet(tmp_ids, index=False)
            (directory / META_FILE).unlink(missing_ok=True)
        meta = write_set_meta(directory, self.dim, self.count, self.meta)
        # The file holds normalised rows; the in-memory vectors are unchanged, so keep what the scan found.
        self.meta = {**meta, "normalized": check.normalized}
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, mmap: bool = True, check: bool = True) -> EmbeddingSet:
        """Load a set written by ``save`` or ``EmbeddingWriter`` (memory-mapped by default) and validate it.

        Args:
            directory: the set's folder.
            mmap: memory-map ``embeddings.npy`` read-only (a 1M x 512 set costs no RAM until read).
            check: scan the vectors for NaN/inf and zero rows (chunked; ~1 s per GB). Metadata, counts and
                version are always checked.

        Raises:
            EmbeddingError: folder or file missing, unfinished write (no meta.json), foreign format or other
                version, counts or dims that disagree between files, NaN/inf or zero rows. Each names the fix.
        """
        directory = Path(directory)
        meta = read_meta(directory, EMBEDDINGS_META, counts=("dim", "count"))
        npy = directory / EMBEDDINGS_FILE
        ids_path = directory / IDS_FILE
        check_recorded_files(directory, meta, (EMBEDDINGS_FILE, IDS_FILE), EMBEDDINGS_META,
                             "re-export the embedding set.")
        try:
            vectors = np.load(npy, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise EmbeddingError(
                f"{npy}: cannot be read ({exc}); the file is truncated or corrupt.",
                fix="re-export the embedding set.",
            ) from exc
        if vectors.ndim != 2 or vectors.dtype != np.float32:
            raise EmbeddingError(
                f"{npy}: expected float32 (N, D), found {vectors.dtype} {vectors.shape}.",
                fix="re-export the set.",
            )
        if vectors.shape != (meta["count"], meta["dim"]):
            raise EmbeddingError(
                f"{npy}: holds {vectors.shape[0]} x {vectors.shape[1]} but meta.json says "
                f"{meta['count']} x {meta['dim']}; the folder mixes two writes.",
                fix="re-export the embedding set.",
            )
        try:
            ids = pd.read_parquet(ids_path)
        except Exception as exc:  # pyarrow raises several types on corrupt files
            raise EmbeddingError(
                f"{ids_path}: cannot be read ({exc}).",
                fix="re-export the embedding set.",
            ) from exc
        if len(ids) != meta["count"]:
            raise EmbeddingError(
                f"{ids_path}: {len(ids)} id rows but {meta['count']} vectors; each vector needs one id row.",
                fix="re-export the embedding set.",
            )
        es = cls(vectors, ids, meta)
        if check:
            es.validate(source=directory)
        return es


def write_set_meta(directory: Path, dim: int, count: int, meta: dict[str, Any]) -> dict[str, Any]:
    """Write the finished set's ``meta.json`` (the last file of a save) and return it.

    The store's own keys (``RESERVED_META_KEYS``) come first and cannot be overridden by the free ``meta``;
    ``ids.parquet`` must already be in place, since its byte size is recorded.
    """
    out = {
        **EMBEDDINGS_META.header(),
        "dim": dim,
        "count": count,
        "dtype": "float32",
        "normalized": True,
        "files": {IDS_FILE: (directory / IDS_FILE).stat().st_size},
        **{k: v for k, v in meta.items() if k not in RESERVED_META_KEYS},
    }
    write_json(directory / META_FILE, out)
    return out


def ids_for_disk(ids: pd.DataFrame) -> pd.DataFrame:
    """The id table as written to parquet: fresh index, id columns as strings (missing values as "")."""
    out = ids.reset_index(drop=True).copy()
    for col in STRING_ID_COLUMNS:
        if col in out.columns:
            out[col] = out[col].map(_id_text)
    return out


def _id_text(value: Any) -> str:
    """An id cell as text; missing values (None, NaN) become ""."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)
