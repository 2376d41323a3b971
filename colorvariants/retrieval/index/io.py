"""``IndexBundle``: a FAISS index, the id table of its vectors and its metadata, saved and loaded as a folder.

Layout (docs/ARCHITECTURE.md, "Index")::

    I/index.faiss    the CPU index (row r of the index = row r of ids.parquet)
    I/ids.parquet    image_path, product_id, ... in index order
    I/meta.json      format, version, kind, dim, count, metric, params, search_params, fidelity, file sizes

Each file is written to a temporary name and renamed; ``meta.json`` is written last and records the byte size
of the other two, so ``load_index`` detects a truncated file or a folder holding pieces of two different
writes before the index is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pandas as pd

from colorvariants.errors import EmbeddingError, IndexFileError
from colorvariants.io import atomic_path, write_json
from colorvariants.metafile import META_FILE, MetaFormat, read_meta
from colorvariants.retrieval.index.base import INDEX_KINDS, search_in_batches
from colorvariants.retrieval.recorded_files import check_recorded_files
from colorvariants.retrieval.store import check_vectors, ids_for_disk

FORMAT = "colorvariants.index"
VERSION = 1
INDEX_FILE = "index.faiss"
IDS_FILE = "ids.parquet"
METRIC = "inner_product"
INDEX_META = MetaFormat(
    FORMAT, VERSION, "index", IndexFileError,
    writer="`colorvariants index build`", unfinished="a build stopped before its last step",
    other="an embedding set?",
)


@dataclass
class IndexBundle:
    """A built index, the ids of its rows (same order) and its metadata (kind, params, fidelity, ...).

    ``search`` takes raw query vectors (they are L2-normalised here) and returns cosine similarities and row
    positions into ``ids``.
    """

    index: faiss.Index
    ids: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ids = self.ids.reset_index(drop=True)
        if self.index.ntotal != len(self.ids):
            raise IndexFileError(
                f"the index holds {self.index.ntotal} vectors but the id table {len(self.ids)} rows.",
                fix="rebuild the index from one embedding set.",
            )

    @property
    def kind(self) -> str:
        return str(self.meta.get("kind", "flat"))

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    def __len__(self) -> int:
        return self.count

    @property
    def search_params(self) -> dict[str, int]:
        return dict(self.meta.get("search_params", {}))

    def search(
        self, queries: np.ndarray, k: int, *, batch_rows: int = 16_384, normalized: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` neighbours of each query row: ``(cosine (Q,k), rows into ids (Q,k), -1 when missing)``.

        Raises:
            IndexFileError: the queries' dimension differs from the index's.
            EmbeddingError: a query row holds NaN/inf or is all zeros.
        """
        queries = np.asarray(queries) if not isinstance(queries, np.memmap) else queries
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise IndexFileError(
                f"queries have shape {queries.shape} but the index holds {self.dim}-d vectors.",
                fix="embed the queries with the model that built the index.",
            )
        check = check_vectors(queries)
        if not check.ok:
            bad = np.concatenate([check.nonfinite_rows, check.zero_rows])[:10].tolist()
            raise EmbeddingError(
                f"query row(s) {bad} hold NaN/inf or are all zeros: they have no nearest neighbours.",
                fix="re-embed those queries with a checkpoint whose loss is finite.",
            )
        return search_in_batches(self.index, queries, min(k, max(self.count, 1)), batch_rows, normalized)

    def save(self, directory: str | Path) -> Path:
        """Write ``index.faiss``, ``ids.parquet`` and ``meta.json`` (last) to ``directory``, atomically.

        Both data files are written in full to temp files before anything in the folder changes, so a full disk
        or a kill while writing leaves an older index there whole and loadable. Then the old ``meta.json`` goes,
        the two files are renamed into place and the new ``meta.json`` is written: a kill between those renames
        leaves a folder ``load_index`` calls unfinished, never the new files under the old metadata (two flat
        indexes of the same shape have files of the same size, which the size check cannot tell apart).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / INDEX_FILE, suffix=".faiss") as tmp_index, \
                atomic_path(directory / IDS_FILE, suffix=".parquet") as tmp_ids:
            faiss.write_index(self.index, str(tmp_index))
            ids_for_disk(self.ids).to_parquet(tmp_ids, index=False)
            (directory / META_FILE).unlink(missing_ok=True)
        reserved = ("format", "version", "kind", "dim", "count", "metric", "files")
        meta = {
            **INDEX_META.header(),
            "kind": self.kind,
            "dim": self.dim,
            "count": self.count,
            "metric": METRIC,
            **{k: v for k, v in self.meta.items() if k not in reserved},
            "files": {
                INDEX_FILE: (directory / INDEX_FILE).stat().st_size,
                IDS_FILE: (directory / IDS_FILE).stat().st_size,
            },
        }
        write_json(directory / META_FILE, meta)
        self.meta = meta
        return directory


def load_index(directory: str | Path, *, expected_dim: int | None = None) -> IndexBundle:
    """Load an index folder, validating version, file sizes, dim and count before the index is used.

    Args:
        directory: the folder ``IndexBundle.save`` wrote.
        expected_dim: when given, the embedding dimension the caller will query with.

    Raises:
        IndexFileError: missing folder or file, unfinished write, other format/version, truncated or corrupt
            file, or dims/counts that disagree (between files, or with ``expected_dim``).
    """
    directory = Path(directory)
    meta_path = directory / META_FILE
    meta = read_meta(directory, INDEX_META)
    if meta.get("metric") != METRIC or meta.get("kind") not in INDEX_KINDS:
        raise IndexFileError(
            f"{meta_path}: metric {meta.get('metric')!r} / kind {meta.get('kind')!r} unknown (expected "
            f"{METRIC!r} and one of {sorted(INDEX_KINDS)}).",
            fix="rebuild the index.",
        )
    check_recorded_files(directory, meta, (INDEX_FILE, IDS_FILE), INDEX_META,
                         "rebuild the index (or rerun `index add`).")
    try:
        index = faiss.read_index(str(directory / INDEX_FILE))
    except RuntimeError as exc:
        raise IndexFileError(
            f"{directory / INDEX_FILE}: FAISS cannot read it ({str(exc).splitlines()[0]}); the file is "
            "corrupt.",
            fix="rebuild the index.",
        ) from exc
    if index.d != meta.get("dim") or index.ntotal != meta.get("count"):
        raise IndexFileError(
            f"{directory / INDEX_FILE}: holds {index.ntotal} vectors of dim {index.d} but meta.json says "
            f"{meta.get('count')} of dim {meta.get('dim')}.",
            fix="rebuild the index.",
        )
    if expected_dim is not None and index.d != expected_dim:
        raise IndexFileError(
            f"{directory}: the index holds {index.d}-d vectors but the embeddings are {expected_dim}-d "
            "(another model?).",
            fix="build the index from these embeddings, or embed with the model that built it.",
        )
    try:
        ids = pd.read_parquet(directory / IDS_FILE)
    except Exception as exc:  # pyarrow raises several types on corrupt files
        raise IndexFileError(
            f"{directory / IDS_FILE}: cannot be read ({exc}).",
            fix="rebuild the index.",
        ) from exc
    if len(ids) != index.ntotal:
        raise IndexFileError(
            f"{directory / IDS_FILE}: {len(ids)} rows for {index.ntotal} indexed vectors.",
            fix="rebuild the index.",
        )
    _check_kind(meta_path, meta, index)
    INDEX_KINDS[meta["kind"]].apply_search_params(index, meta.get("search_params", {}))
    return IndexBundle(index, ids, meta)


def _check_kind(meta_path: Path, meta: dict[str, Any], index: faiss.Index) -> None:
    """Refuse a meta.json whose ``kind`` does not describe the FAISS file (edited, or files mixed up)."""
    kind = INDEX_KINDS[meta["kind"]]
    found = faiss.downcast_index(index)
    try:
        params = {**kind.infer_params(index), **meta.get("params", {})}
        matches = isinstance(found, type(faiss.downcast_index(kind.create(index.d, params))))
    except (RuntimeError, KeyError, ValueError, TypeError):  # the structure the kind reads is not there
        matches = False
    if not matches:
        raise IndexFileError(
            f"{meta_path}: says kind {meta['kind']!r} but {INDEX_FILE} is a FAISS {type(found).__name__}.",
            fix="rebuild the index with `colorvariants index build`.",
        )
