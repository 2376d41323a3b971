"""The protocol registry: the default protocol is ``evaluate_embeddings``; ``inshop`` reads the query/gallery
status from the ids or a manifest and says clearly when there is none."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from colorvariants.cli.commands.evaluate import PROTOCOL_CHOICES
from colorvariants.errors import EmbeddingError, ManifestError
from colorvariants.retrieval.evaluate import evaluate_embeddings
from colorvariants.retrieval.inshop import inshop_protocol_metrics
from colorvariants.retrieval.protocols import PROTOCOLS, ProtocolOptions
from colorvariants.retrieval.store import EmbeddingSet

Factory = Callable[..., EmbeddingSet]


def with_status(es: EmbeddingSet) -> EmbeddingSet:
    """Per style: the first image a query, the rest gallery; every fourth style is train."""
    ids = es.ids.copy()
    first = ~ids.duplicated("style_id")
    ids["inshop_status"] = np.where(first, "query", "gallery")
    ids.loc[ids["style_id"].astype(int) % 4 == 3, "inshop_status"] = "train"
    ids["split"] = np.where(ids["inshop_status"] == "train", "train", "test")
    return EmbeddingSet(es.vectors, ids, dict(es.meta))


def test_cli_choices_are_the_registry() -> None:
    assert set(PROTOCOL_CHOICES) == set(PROTOCOLS)


def test_default_is_evaluate_embeddings(clustered_set: Factory) -> None:
    es = clustered_set(n_styles=12, style_noise=0.9, image_noise=0.6, seed=2)
    got = PROTOCOLS["default"].evaluate(es, ProtocolOptions(ks=(1, 5)))
    assert got == evaluate_embeddings(es, ks=(1, 5))
    assert "mAP@R=" in PROTOCOLS["default"].summary(got, (1, 5))


def test_inshop_from_ids(clustered_set: Factory) -> None:
    es = with_status(clustered_set(n_styles=12, style_noise=0.9, image_noise=0.6, seed=2))
    got = PROTOCOLS["inshop"].evaluate(es, ProtocolOptions(ks=(1, 10)))
    want = inshop_protocol_metrics(es.vectors, es.ids, ks=(1, 10))
    assert got["recall@1"] == want["recall@1"] and got["recall@10"] == want["recall@10"]
    assert got["queries"] == 9 and isinstance(got["gallery"], int)  # 12 styles, 3 of them train
    # --split test keeps the same queries and gallery (train rows are never either).
    assert PROTOCOLS["inshop"].evaluate(es, ProtocolOptions(split="test", ks=(1, 10)))["recall@1"] == got["recall@1"]
    assert "gallery images" in PROTOCOLS["inshop"].summary(got, (1, 10))


def test_inshop_status_from_manifest(clustered_set: Factory, tmp_path: Path) -> None:
    labelled = with_status(clustered_set(n_styles=8, seed=1))
    manifest = tmp_path / "m.csv"
    labelled.ids.to_csv(manifest, index=False)
    bare = EmbeddingSet(labelled.vectors, labelled.ids[["image_path", "product_id"]], {})
    got = PROTOCOLS["inshop"].evaluate(bare, ProtocolOptions(manifest=manifest, ks=(1,)))
    assert got["recall@1"] == inshop_protocol_metrics(labelled.vectors, labelled.ids, ks=(1,))["recall@1"]


def test_inshop_without_status_is_a_clear_error(clustered_set: Factory, tmp_path: Path) -> None:
    es = clustered_set(n_styles=6, seed=0)
    with pytest.raises(EmbeddingError, match="no 'inshop_status' column.*deepfashion-inshop.*--manifest"):
        PROTOCOLS["inshop"].evaluate(es, ProtocolOptions())
    manifest = tmp_path / "plain.csv"
    es.ids.to_csv(manifest, index=False)
    with pytest.raises(ManifestError, match="inshop_status"):
        PROTOCOLS["inshop"].evaluate(es, ProtocolOptions(manifest=manifest))


def test_inshop_without_query_rows_is_a_clear_error(clustered_set: Factory) -> None:
    es = with_status(clustered_set(n_styles=8, seed=0))
    ids = es.ids.assign(inshop_status=pd.Series(["gallery"] * len(es.ids)))
    with pytest.raises(EmbeddingError, match="needs query and gallery rows"):
        PROTOCOLS["inshop"].evaluate(EmbeddingSet(es.vectors, ids, {}), ProtocolOptions())
