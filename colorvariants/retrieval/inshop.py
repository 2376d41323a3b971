"""The DeepFashion In-shop retrieval protocol: Recall@k over the official query/gallery split.

Standard since Liu et al. (DeepFashion, CVPR 2016): every ``query`` image searches the ``gallery`` images, and a
hit is a gallery image of the same *item* (``item_id``; our In-shop manifests keep it as ``style_id``). This is
same-item retrieval, not our colour-variant protocol: numbers from it compare with the literature, not with
``colorvariants evaluate``'s default protocol. Exact search: FAISS inner product on L2-normalised vectors,
queries in batches so memory stays bounded.

>>> metrics = inshop_protocol_metrics(es.vectors, es.ids)  # doctest: +SKIP
>>> metrics["recall@1"]                                   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from colorvariants.errors import EmbeddingError
from colorvariants.metrics.retrieval import DEFAULT_KS
from colorvariants.retrieval.store import normalize_rows

STATUS_COLUMN = "inshop_status"


def _checked_rows(x: np.ndarray, rows: np.ndarray, what: str) -> np.ndarray:
    """The given rows as contiguous float32, L2-normalised; NaN/inf or zero rows raise ``EmbeddingError``."""
    block = np.ascontiguousarray(np.asarray(x[rows], dtype=np.float32))
    finite = np.isfinite(block).all(axis=1)
    norms = np.linalg.norm(np.where(np.isfinite(block), block, 0), axis=1)
    bad = rows[~finite | (norms == 0)]
    if bad.size:
        raise EmbeddingError(
            f"{bad.size} {what} vector(s) are NaN/inf or zero (first rows {bad[:5].tolist()}).",
            fix="re-embed with a checkpoint whose loss was finite.",
        )
    return normalize_rows(block)


def inshop_protocol_metrics(
    embeddings: np.ndarray,
    ids_frame: pd.DataFrame,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    item_column: str = "style_id",
    batch_size: int = 2048,
) -> dict[str, float]:
    """Recall@k of the In-shop protocol: share of queries with an image of the same item in their top k.

    Args:
        embeddings: ``(N, D)`` vectors (normalised here; a memory map is read batch by batch).
        ids_frame: ``N`` rows in the same order with ``inshop_status`` (``query``/``gallery``/``train``) and
            the item id in ``item_column`` (what ``colorvariants import deepfashion-inshop`` writes).
        ks: the cut-offs; a k beyond the gallery size counts the whole gallery.
        item_column: the column holding In-shop's ``item_id``.
        batch_size: queries searched at once.

    Returns:
        ``{"recall@k": ...}`` for each k, plus ``queries``, ``gallery`` and ``queries_without_match`` (queries
        whose item has no gallery image; they count as misses, as in the official protocol).

    Raises:
        EmbeddingError: row counts disagree, a column is missing, no query or gallery rows, NaN/inf/zero vectors.

    >>> import numpy as np, pandas as pd
    >>> ids = pd.DataFrame({"style_id": ["a", "b", "a", "b"],
    ...                     "inshop_status": ["query", "query", "gallery", "gallery"]})
    >>> x = np.array([[1, 0], [0, 1], [1, 0.1], [0.1, 1]], dtype=np.float32)
    >>> inshop_protocol_metrics(x, ids, ks=(1,))["recall@1"]
    1.0
    """
    if embeddings.ndim != 2 or embeddings.shape[0] != len(ids_frame):
        raise EmbeddingError(
            f"{embeddings.shape} embeddings for {len(ids_frame)} id rows: they must be one row per image, "
            "in the same order.",
            fix="use the vectors and ids.parquet of one embedding set.",
        )
    missing = [c for c in (STATUS_COLUMN, item_column) if c not in ids_frame.columns]
    if missing:
        raise EmbeddingError(
            f"the id table lacks column(s) {missing} needed by the In-shop protocol; "
            f"found {list(ids_frame.columns)}.",
            fix="embed the manifest written by `colorvariants import deepfashion-inshop` (it carries "
                "inshop_status and the item id as style_id).",
        )
    if not ks or any(int(k) < 1 for k in ks):
        raise ValueError(f"ks must be positive integers, got {list(ks)}")
    status = ids_frame[STATUS_COLUMN].astype(str).to_numpy()
    items = ids_frame[item_column].astype(str).to_numpy()
    queries = np.flatnonzero(status == "query")
    gallery = np.flatnonzero(status == "gallery")
    if queries.size == 0 or gallery.size == 0:
        raise EmbeddingError(
            f"the In-shop protocol needs query and gallery rows; found {queries.size} query and {gallery.size} "
            "gallery rows.",
            fix="embed the test split (or all) of the In-shop manifest, not only train.",
        )

    import faiss  # heavy: imported only when the protocol runs

    gallery_vectors = _checked_rows(embeddings, gallery, "gallery")
    index = faiss.IndexFlatIP(gallery_vectors.shape[1])
    index.add(gallery_vectors)
    gallery_items = items[gallery]
    depth = min(max(int(k) for k in ks), gallery.size)
    hits = np.zeros(len(ks), dtype=np.int64)
    for start in range(0, queries.size, batch_size):
        rows = queries[start : start + batch_size]
        _, neighbours = index.search(_checked_rows(embeddings, rows, "query"), depth)
        match = gallery_items[neighbours] == items[rows][:, None]
        first = np.where(match.any(axis=1), match.argmax(axis=1), depth)  # 0-based rank of the first hit
        hits += np.array([(first < int(k)).sum() for k in ks])

    result: dict[str, float] = {f"recall@{int(k)}": float(h / queries.size) for k, h in zip(ks, hits, strict=True)}
    result["queries"] = float(queries.size)
    result["gallery"] = float(gallery.size)
    result["queries_without_match"] = float((~np.isin(items[queries], gallery_items)).sum())
    return result
