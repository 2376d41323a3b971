"""Evaluation protocols by name, so ``colorvariants evaluate --protocol NAME`` picks one from a table.

- ``default``: the colour-variant protocol of shared/docs/protocol.md (``evaluate_embeddings``): queries are
  images whose style has two products, a hit is another product of the same style; recall@k and mAP@R.
- ``inshop``: DeepFashion In-shop's official query/gallery split (``inshop_protocol_metrics``): ``query`` images
  search ``gallery`` images, a hit is the same item; recall@k comparable with the literature (no mAP@R there).

A protocol is a ``Protocol`` record (what it measures in words, how to run it, how to summarise it in one line)
registered in ``PROTOCOLS``; adding one is adding a record, not a branch in the CLI.

>>> metrics = PROTOCOLS["inshop"].evaluate(EmbeddingSet.load("E"), ProtocolOptions())   # doctest: +SKIP
>>> metrics["recall@1"]                                                                 # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from colorvariants.errors import EmbeddingError, ManifestError
from colorvariants.metrics.retrieval import DEFAULT_KS
from colorvariants.retrieval.choices import PROTOCOL_NAMES, ProtocolName, add_to_registry
from colorvariants.retrieval.evaluate import attach_manifest, evaluate_embeddings
from colorvariants.retrieval.inshop import STATUS_COLUMN, inshop_protocol_metrics
from colorvariants.retrieval.store import EmbeddingSet

DEFAULT_PROTOCOL: ProtocolName = "default"


@dataclass(frozen=True)
class ProtocolOptions:
    """What every protocol is asked with (the ``evaluate`` flags).

    Attributes:
        split: evaluate only the rows of this split (``None``: every row).
        manifest: a manifest joined on ``(image_path, product_id)`` for labels the id table lacks.
        ks: recall cut-offs.
        batch_size: queries per exact-search call.
        memory_budget: RAM the gallery may take (bytes or text like ``"2GB"``); past it the search streams
            (default protocol only; ``None``: half the available RAM).
        rerank: re-ranker spec applied to each query's first ``candidates`` neighbours (default protocol only;
            ``colorvariants.retrieval.rerank``).
    """

    split: str | None = None
    manifest: str | Path | None = None
    ks: tuple[int, ...] = DEFAULT_KS
    batch_size: int = 1024
    memory_budget: int | str | None = None
    rerank: str | None = None
    candidates: int = 100


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol: its description (written into metrics.json), its run, and its one-line summary."""

    name: ProtocolName
    description: str
    evaluate: Callable[[EmbeddingSet, ProtocolOptions], dict[str, Any]]
    summary: Callable[[dict[str, Any], tuple[int, ...]], str]


PROTOCOLS: dict[str, Protocol] = {}


def register_protocol(protocol: Protocol) -> Protocol:
    """Add ``protocol`` to ``PROTOCOLS`` under its name (twice is a programming error)."""
    return add_to_registry(PROTOCOLS, protocol.name, protocol, PROTOCOL_NAMES, "evaluation protocol")


def _recalls(metrics: dict[str, Any], ks: tuple[int, ...]) -> str:
    return ", ".join(f"recall@{k}={metrics[f'recall@{k}']:.4f}" for k in ks)


# -- default: the colour-variant protocol ----------------------------------------------------------------------
def _default(es: EmbeddingSet, opts: ProtocolOptions) -> dict[str, Any]:
    return evaluate_embeddings(es, split=opts.split, manifest=opts.manifest, ks=opts.ks,
                               batch_size=opts.batch_size, memory_budget=opts.memory_budget,
                               rerank=opts.rerank, candidates=opts.candidates)


def _default_summary(m: dict[str, Any], ks: tuple[int, ...]) -> str:
    rerank = f", re-ranked by {m['rerank']} in {m['rerank_s']:.2f}s" if m.get("rerank") else ""
    return (f"{_recalls(m, ks)}, mAP@R={m['map@r']:.4f} ({m['n_queries']} queries, {m['n_gallery']} images, "
            f"{m['n_styles_single_product']} single-product styles not queried{rerank})")


# -- inshop: DeepFashion In-shop's query/gallery split ------------------------------------------------------------
def attach_inshop_status(ids: pd.DataFrame, manifest: str | Path) -> pd.DataFrame:
    """The id table with ``inshop_status`` (query/gallery/train) taken from ``manifest`` on
    ``(image_path, product_id)``; the other labels (``style_id`` = In-shop's item) come via ``attach_manifest``.

    Raises:
        ManifestError: the manifest has no ``inshop_status`` column, or lacks an embedded image.
    """
    from colorvariants.data.catalog import read_manifest_frame

    frame = read_manifest_frame(manifest)
    if STATUS_COLUMN not in frame.columns:
        raise ManifestError(
            f"no {STATUS_COLUMN!r} column, so the In-shop query/gallery split is unknown.", file=manifest,
            fix="pass the manifest `colorvariants import deepfashion-inshop` wrote, or use --protocol default.",
        )
    joined = attach_manifest(ids, manifest)  # also checks that every embedded image is in the manifest
    status = (frame.drop_duplicates(["image_path", "product_id"])
              .set_index(["image_path", "product_id"])[STATUS_COLUMN].astype(str))
    keys = pd.MultiIndex.from_frame(joined[["image_path", "product_id"]].astype(str))
    joined[STATUS_COLUMN] = status.reindex(keys).fillna("").to_numpy()
    return joined


def _inshop(es: EmbeddingSet, opts: ProtocolOptions) -> dict[str, Any]:
    if opts.manifest is not None:
        es = EmbeddingSet(es.vectors, attach_inshop_status(es.ids, opts.manifest), dict(es.meta))
    if STATUS_COLUMN not in es.ids.columns:
        raise EmbeddingError(
            f"the embedding set's ids.parquet has no {STATUS_COLUMN!r} column (found {list(es.ids.columns)}), so "
            "it has no In-shop query/gallery split.",
            fix="embed the manifest written by `colorvariants import deepfashion-inshop` (embed keeps the "
                "column), pass that manifest with --manifest, or use --protocol default.",
        )
    if opts.split is not None:
        es = es.split(opts.split)
    metrics: dict[str, Any] = inshop_protocol_metrics(es.vectors, es.ids, ks=opts.ks, batch_size=opts.batch_size)
    for key in ("queries", "gallery", "queries_without_match"):
        metrics[key] = int(metrics[key])
    metrics["split"] = opts.split
    return metrics


def _inshop_summary(m: dict[str, Any], ks: tuple[int, ...]) -> str:
    return (f"{_recalls(m, ks)} ({m['queries']} queries, {m['gallery']} gallery images, "
            f"{m['queries_without_match']} queries whose item has no gallery image)")


register_protocol(Protocol(
    DEFAULT_PROTOCOL,
    "shared/docs/protocol.md: queries = images whose style has >= 2 products; gallery = all but the query's own "
    "product; cosine; exact search",
    _default, _default_summary,
))
register_protocol(Protocol(
    "inshop",
    "DeepFashion In-shop (Liu et al., CVPR 2016): queries = inshop_status 'query' images; gallery = 'gallery' "
    "images; hit = same item_id (style_id); cosine; exact search",
    _inshop, _inshop_summary,
))
