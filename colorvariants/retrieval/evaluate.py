"""Evaluate an embedding set with the protocol (shared/docs/protocol.md): exact FAISS search in query batches.

Exact and bounded in memory at any size (a gallery larger than the memory budget is streamed, see
``memory_budget``): each query searches just deep enough that, once the neighbours of its
own product are dropped, its first ``max(max_k, R)`` gallery neighbours are known (R = gallery images of its
style), which is all recall@k and mAP@R need. Queries are sorted by that depth and batched so a batch's result
block stays under ``max_result_entries``. Memory: the vectors once in a flat index (4·N·D bytes, 512 MB for
1M x 128) plus one result block. Time is O(queries x N x D): minutes for 100k on a few cores, and on a GPU
(used when faiss sees one) 1M x 1M is practical.

>>> metrics = evaluate_embeddings(EmbeddingSet.load("E"), split="test")   # doctest: +SKIP
>>> metrics["recall@1"], metrics["map@r"], metrics["n_queries"]            # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pandas as pd

from colorvariants.errors import EmbeddingError, ManifestError
from colorvariants.metrics.retrieval import DEFAULT_KS, average_precision_at_r
from colorvariants.retrieval.index.auto import default_memory_budget, parse_memory
from colorvariants.retrieval.index.base import (
    Search,
    add_in_batches,
    exact_knn,
    gpu_count,
    iter_unit_batches,
    to_gpu,
    with_offsets,
)
from colorvariants.retrieval.store import EmbeddingSet, chunk_rows_for

log = logging.getLogger(__name__)

# faiss GPU brute-force search returns at most 2048 neighbours per query; deeper queries run on the CPU index.
GPU_MAX_K = 2048


@dataclass(frozen=True)
class ProtocolLabels:
    """Integer style and product code per row, and which rows are queries (their style has >= 2 products)."""

    style: np.ndarray
    product: np.ndarray
    is_query: np.ndarray
    n_styles: int
    n_products: int
    n_single_product_styles: int

    @classmethod
    def from_ids(cls, ids: pd.DataFrame) -> ProtocolLabels:
        """Codes from ``style_id``/``product_id``; a row without style_id is its own style (no variants)."""
        if "product_id" not in ids.columns:
            raise EmbeddingError(
                "the id table has no product_id column.",
                fix="pass --manifest to join labels.",
            )
        product_ids = ids["product_id"].astype(str)
        if "style_id" in ids.columns:
            styles = ids["style_id"].fillna("").astype(str)
            styles = styles.where(styles != "", "product:" + product_ids)
        else:
            styles = "product:" + product_ids
        _check_labels(ids, product_ids, styles)
        style = pd.factorize(styles, sort=True)[0].astype(np.int64)
        product = pd.factorize(product_ids, sort=True)[0].astype(np.int64)
        n_styles = int(style.max()) + 1 if style.size else 0
        pairs = np.unique(np.stack([style, product], axis=1), axis=0).reshape(-1, 2)
        products_per_style = np.bincount(pairs[:, 0], minlength=n_styles)
        return cls(
            style=style,
            product=product,
            is_query=products_per_style[style] >= 2,
            n_styles=n_styles,
            n_products=int(product.max()) + 1 if product.size else 0,
            n_single_product_styles=int((products_per_style == 1).sum()),
        )


def _check_labels(ids: pd.DataFrame, product_ids: pd.Series, styles: pd.Series) -> None:
    """Refuse labels that would silently skew the metrics: an image listed twice for one product (counted twice
    in every R and every hit list) and a product under two styles (its variants are undefined)."""
    if "image_path" in ids.columns:
        dup = pd.DataFrame({"image": ids["image_path"].astype(str), "product": product_ids}).duplicated()
        if dup.any():
            shown = ids.loc[dup.to_numpy(), "image_path"].head(5).tolist()
            raise EmbeddingError(
                f"{int(dup.sum())} row(s) repeat an image already in the set under the same product_id (e.g. "
                f"{shown}); each would count twice in recall and mAP@R.",
                fix="embed each image once (drop the repeated rows from the vectors and ids), e.g. after "
                    "concatenating overlapping sets.",
            )
    per_product = pd.DataFrame({"product": product_ids, "style": styles}).drop_duplicates()
    two = per_product["product"].duplicated(keep=False)
    if two.any():
        shown = sorted(per_product.loc[two, "product"].unique().tolist())[:5]
        raise EmbeddingError(
            f"product_id(s) {shown} appear under two or more style_ids; a product is one colour of one design, "
            "so its colour variants are undefined.",
            fix="correct style_id in the manifest (`colorvariants validate` lists them) and re-attach it "
                "with --manifest.",
        )


def attach_manifest(ids: pd.DataFrame, manifest: str | Path) -> pd.DataFrame:
    """Fill ``style_id``/``split`` (and any missing label column) of the id table from a manifest.

    Rows are matched on ``(image_path, product_id)``; a manifest value wins over an empty one in the ids.

    Raises:
        ManifestError: an embedded image is not in the manifest (names a few and the fix).
    """
    from colorvariants.data.catalog import read_manifest_frame

    frame = read_manifest_frame(manifest)
    for col in ("image_path", "product_id"):
        if col not in frame.columns:
            raise ManifestError(
                f"required column {col!r} missing.", file=manifest, fix="add it to the manifest."
            )
    label_cols = [c for c in ("style_id", "split", "color") if c in frame.columns]
    right = frame[["image_path", "product_id", *label_cols]].drop_duplicates(["image_path", "product_id"])
    left = ids.reset_index(drop=True).copy()
    left["image_path"] = left["image_path"].astype(str)
    left["product_id"] = left["product_id"].astype(str)
    joined = left.merge(right, on=["image_path", "product_id"], how="left", suffixes=("", "__manifest"),
                        indicator=True, validate="many_to_one")
    missing = joined["_merge"] == "left_only"
    if missing.any():
        shown = joined.loc[missing, "image_path"].head(5).tolist()
        raise ManifestError(
            f"{int(missing.sum())} embedded image(s) are not in the manifest under the same product_id "
            f"(e.g. {shown}).", file=manifest,
            fix="pass the manifest the embeddings were computed from.",
        )
    for col in label_cols:
        extra = f"{col}__manifest"
        if extra in joined.columns:
            own = joined[col].fillna("").astype(str)
            joined[col] = own.where(own != "", joined[extra].fillna("").astype(str))
            joined = joined.drop(columns=[extra])
    return joined.drop(columns=["_merge"])


def evaluate_embeddings(
    embedding_set: EmbeddingSet,
    *,
    split: str | None = None,
    manifest: str | Path | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    batch_size: int = 1024,
    max_result_entries: int = 1 << 24,
    use_gpu: bool | None = None,
    memory_budget: int | str | None = None,
    rerank: str | None = None,
    candidates: int = 100,
) -> dict[str, Any]:
    """Retrieval metrics of the protocol by exact search: recall@k, mAP@R and the counts behind them.

    Args:
        embedding_set: vectors and ids (``style_id``, ``product_id``, ``split`` columns, or see ``manifest``).
        split: evaluate only the rows of this split (e.g. ``test``); the gallery is that split too.
        manifest: a manifest joined on ``(image_path, product_id)`` for labels the ids lack.
        ks: recall cut-offs.
        batch_size: most queries per FAISS search call.
        max_result_entries: bound on queries x depth held at once (16M entries = ~200 MB).
        use_gpu: None = GPU faiss when available.
        memory_budget: bytes (or text like ``"2GB"``) the gallery may take in RAM; default half the available
            RAM. A larger gallery is not copied into an index: each query batch streams over the (memory-mapped)
            vectors block by block and merges the blocks' top-k in a heap, so RAM holds one block and one result
            block, at the cost of one pass over the vectors per query batch.
        rerank: a re-ranker spec (``csls``, ``kreciprocal:k1=15``, ``dba``, ...; ``colorvariants.retrieval.
            rerank``): each query's first ``candidates`` neighbours (at least its protocol depth) are re-scored
            on the set's exact kNN graph (in memory: a flat index and an N x width graph, width = max(depth,
            ``candidates``); no streaming or GPU); the rest keep their cosine order below them. None: cosine.
        candidates: neighbours re-ranked per query.

    Returns:
        ``recall@k`` for each k, ``map@r``, ``n_queries``, ``n_gallery`` (images in the evaluated set; each
        query's gallery is that minus its own product's images), ``n_items``, ``n_styles``, ``n_products``,
        ``n_styles_single_product`` and ``n_items_not_queried`` (styles with one product have no variant to
        find and are excluded from queries, but stay in the gallery), ``split``.

    Raises:
        EmbeddingError: NaN/inf or zero rows, empty set or split, no split column, no style with two products,
            an image repeated under one product, or a product under two styles.
        ManifestError: embedded images missing from ``manifest``.
    """
    es = embedding_set.ensure_valid()
    if manifest is not None:
        es = es.with_ids(attach_manifest(es.ids, manifest))
    if split is not None:
        es = es.split(split)
    n = es.count
    if n == 0:
        raise EmbeddingError(
            "the embedding set is empty: nothing to evaluate.",
            fix="embed the evaluation images.",
        )
    ks = tuple(int(k) for k in ks)
    max_k = max(ks, default=1)
    labels = ProtocolLabels.from_ids(es.ids)
    queries = np.flatnonzero(labels.is_query)
    if queries.size == 0:
        raise EmbeddingError(
            f"no evaluable queries: none of the {labels.n_styles} styles in "
            f"{'split ' + repr(split) if split else 'the set'} has two products (colour variants).",
            fix="add style_id labels (e.g. --manifest with a style_id column), or evaluate a split that "
                "holds variants.",
        )

    style_size = np.bincount(labels.style)
    product_size = np.bincount(labels.product)
    r_counts = style_size[labels.style[queries]] - product_size[labels.product[queries]]
    depth = np.minimum(n, np.maximum(max_k, r_counts) + product_size[labels.product[queries]])

    from colorvariants.retrieval.rerank import make_reranker

    reranker = make_reranker(rerank)
    if reranker is not None:
        out = _reranked_scores(es, reranker, queries, depth, r_counts, labels, max_k, candidates)
        return _summarise(out[0], out[1], ks, queries, n, labels, split) | {
            "rerank": reranker.spec(), "rerank_s": round(out[2], 3)}

    gpu = gpu_count() > 0 if use_gpu is None else bool(use_gpu and gpu_count() > 0)
    budget = parse_memory(memory_budget) if memory_budget is not None else default_memory_budget()
    stream = 4 * n * es.dim > budget
    search = _gallery_search(es, gpu, stream)
    if stream:
        log.info("gallery of %d x %d exceeds the memory budget: streaming it per query batch", n, es.dim)
        batch_size = max(batch_size, 65_536)  # each batch is one pass over the vectors: fewer, larger batches

    first_hit = np.empty(queries.size, dtype=np.int64)
    ap = np.empty(queries.size, dtype=np.float64)
    order = np.argsort(depth, kind="stable")
    start = 0
    while start < order.size:
        # Grow the batch while its deepest query keeps the result block under the bound.
        stop = min(order.size, start + batch_size)
        while stop - start > 1 and (stop - start) * int(depth[order[stop - 1]]) > max_result_entries:
            stop = start + max(1, (stop - start) // 2)
        sel = order[start:stop]
        k = int(depth[sel].max())
        q_rows = queries[sel]
        xq = next(iter_unit_batches(es.vectors[q_rows], batch_rows=len(q_rows), normalized=es.normalized))
        _, nbr = search(xq, k)
        first_hit[sel], ap[sel] = _score_batch(nbr, q_rows, r_counts[sel], labels, max_k)
        start = stop

    return _summarise(first_hit, ap, ks, queries, n, labels, split)


def _summarise(first_hit: np.ndarray, ap: np.ndarray, ks: tuple[int, ...], queries: np.ndarray, n: int,
               labels: ProtocolLabels, split: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {f"recall@{k}": float(np.mean(first_hit < k)) for k in ks}
    out["map@r"] = float(ap.mean())
    out.update(
        n_queries=int(queries.size),
        n_gallery=int(n),
        n_items=int(n),
        n_styles=labels.n_styles,
        n_products=labels.n_products,
        n_styles_single_product=labels.n_single_product_styles,
        n_items_not_queried=int(n - queries.size),
        split=split,
    )
    return out


def _reranked_scores(
    es: EmbeddingSet, reranker: Any, queries: np.ndarray, depth: np.ndarray, r_counts: np.ndarray,
    labels: ProtocolLabels, max_k: int, candidates: int,
) -> tuple[np.ndarray, np.ndarray, float]:
    """First-hit rank and AP@R of every query after re-ranking its candidates on the exact kNN graph.

    The graph is as wide as the deepest query needs (and the re-ranker reads): O(N x width), never N x N.
    """
    import time

    from colorvariants.retrieval.rerank import Candidates, Database, knn_graph
    from colorvariants.retrieval.rerank import rerank as apply_rerank

    n = es.count
    vectors = es.unit_vectors()
    width = min(n - 1, max(int(depth.max()), candidates, reranker.graph_k))
    graph = knn_graph(vectors, width)
    t0 = time.perf_counter()
    head = min(width, max(candidates, 1))
    q_graph = graph.head(head)
    q_graph = type(graph)(q_graph.rows[queries], q_graph.sims[queries])
    ranked = apply_rerank(reranker, Database(vectors, graph), Candidates(vectors[queries], q_graph, queries))
    nbr = np.concatenate([ranked.rows, graph.rows[queries, head:]], axis=1)
    seconds = time.perf_counter() - t0
    first, ap = _score_batch(nbr, queries, r_counts, labels, max_k)
    return first, ap, seconds


def _gallery_search(es: EmbeddingSet, gpu: bool, stream: bool) -> Search:
    """Exact top-k search of unit queries over the whole set: a flat index in RAM (searched on its GPU copy
    when there is one and k <= ``GPU_MAX_K``), or, when ``stream``, a pass over the gallery's blocks per call."""
    if stream:
        return lambda xq, k: exact_knn(lambda: _gallery_blocks(es), xq, k, use_gpu=gpu and k <= GPU_MAX_K)
    cpu_index = faiss.IndexFlatIP(es.dim)
    add_in_batches(cpu_index, es.vectors, normalized=es.normalized)
    gpu_index = to_gpu(cpu_index) if gpu else None

    def search(xq: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        index = gpu_index if gpu_index is not None and k <= GPU_MAX_K else cpu_index
        return index.search(xq, k)

    return search


def _gallery_blocks(es: EmbeddingSet) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, unit rows)`` blocks of the gallery, each at most ``CHUNK_BYTES``."""
    rows = chunk_rows_for(es.dim)
    return with_offsets(iter_unit_batches(es.vectors, batch_rows=rows, normalized=es.normalized))


def _score_batch(
    nbr: np.ndarray, q_rows: np.ndarray, r_counts: np.ndarray, labels: ProtocolLabels, max_k: int
) -> tuple[np.ndarray, np.ndarray]:
    """First-hit gallery rank and AP@R per query from raw neighbour rows (own product dropped here)."""
    found = nbr >= 0
    safe = np.where(found, nbr, 0)
    valid = found & (labels.product[safe] != labels.product[q_rows][:, None])
    hit = valid & (labels.style[safe] == labels.style[q_rows][:, None])
    # Compact each row to its gallery ranking: valid neighbours first, in rank order (the sort is stable).
    perm = np.argsort(~valid, axis=1, kind="stable")
    ranked_hits = np.take_along_axis(hit, perm, axis=1)
    width = ranked_hits.shape[1]
    any_hit = ranked_hits.any(axis=1)
    first = np.where(any_hit, ranked_hits.argmax(axis=1), width + max_k)
    return first, average_precision_at_r(ranked_hits, r_counts)
