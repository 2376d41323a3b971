"""evaluate_embeddings equals the brute-force reference and pytorch-metric-learning; labels; errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator

from colorvariants.errors import EmbeddingError, ManifestError
from colorvariants.metrics.retrieval import exact_protocol_metrics
from colorvariants.retrieval.evaluate import evaluate_embeddings
from colorvariants.retrieval.store import EmbeddingSet

Factory = Callable[..., EmbeddingSet]
PROTOCOL_KEYS = ("recall@1", "recall@5", "recall@10", "recall@20", "map@r", "n_queries")


def reference(es: EmbeddingSet) -> dict[str, float | int]:
    return exact_protocol_metrics(es.vectors, es.ids["style_id"].to_numpy(), es.ids["product_id"].to_numpy())


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("images_per_product", [1, 3])
def test_equals_brute_force_reference(clustered_set: Factory, seed: int, images_per_product: int) -> None:
    es = clustered_set(n_styles=30, products_per_style=3, images_per_product=images_per_product,
                       style_noise=0.9, image_noise=0.6, single_product_styles=5, seed=seed)
    got = evaluate_embeddings(es)
    want = reference(es)
    for key in PROTOCOL_KEYS:
        assert got[key] == pytest.approx(want[key], abs=1e-9), key
    assert 0.0 < got["recall@1"] < 1.0  # the data is hard enough for the comparison to mean something


def test_tiny_result_blocks_do_not_change_results(clustered_set: Factory) -> None:
    es = clustered_set(n_styles=20, images_per_product=2, style_noise=1.0, image_noise=0.7, seed=4)
    whole = evaluate_embeddings(es)
    assert evaluate_embeddings(es, batch_size=3, max_result_entries=50) == whole


def test_styles_with_very_unequal_sizes(clustered_set: Factory) -> None:
    # One huge style (R ~ 300) among small ones: mAP@R needs deep searches for some queries only.
    big = clustered_set(n_styles=1, products_per_style=60, images_per_product=5, seed=5, image_noise=1.0)
    small = clustered_set(n_styles=30, products_per_style=2, images_per_product=1, seed=6, image_noise=1.0)
    small.ids["style_id"] = "x" + small.ids["style_id"]
    small.ids["product_id"] = "x" + small.ids["product_id"]
    es = EmbeddingSet.concatenate([big, small])
    got = evaluate_embeddings(es, batch_size=16)
    want = reference(es)
    for key in PROTOCOL_KEYS:
        assert got[key] == pytest.approx(want[key], abs=1e-9), key


def test_invariant_to_gallery_order(clustered_set: Factory) -> None:
    es = clustered_set(n_styles=25, style_noise=1.0, image_noise=0.6, seed=7)
    perm = np.random.default_rng(0).permutation(es.count)
    shuffled = EmbeddingSet(es.vectors[perm], es.ids.iloc[perm].reset_index(drop=True))
    a, b = evaluate_embeddings(es), evaluate_embeddings(shuffled)
    for key in PROTOCOL_KEYS:
        assert a[key] == pytest.approx(b[key], abs=1e-12)


def test_recall_is_monotone_in_k(clustered_set: Factory) -> None:
    es = clustered_set(n_styles=25, style_noise=1.2, image_noise=0.9, seed=8)
    m = evaluate_embeddings(es, ks=range(1, 21))
    values = [m[f"recall@{k}"] for k in range(1, 21)]
    assert values == sorted(values) and values[0] < values[-1]


def test_agrees_with_pytorch_metric_learning(clustered_set: Factory) -> None:
    # One image per product and every style with >= 2 products: "exclude the query's own product" is exactly
    # pml's "exclude the query itself" (ref_includes_query), and every image is a query in both.
    es = clustered_set(n_styles=40, products_per_style=4, images_per_product=1, style_noise=1.0, seed=9)
    ours = evaluate_embeddings(es)
    style = torch.from_numpy(pd.factorize(es.ids["style_id"])[0])
    x = torch.nn.functional.normalize(torch.from_numpy(np.asarray(es.vectors)), dim=1)
    calc = AccuracyCalculator(
        include=("precision_at_1", "mean_average_precision_at_r"), device=torch.device("cpu")
    )
    theirs = calc.get_accuracy(x, style, x, style, ref_includes_query=True)
    assert ours["n_queries"] == es.count
    assert ours["recall@1"] == pytest.approx(theirs["precision_at_1"], abs=1e-6)
    assert ours["map@r"] == pytest.approx(theirs["mean_average_precision_at_r"], abs=1e-6)
    assert 0.2 < ours["map@r"] < 0.95


def test_single_product_styles_are_counted_not_queried(clustered_set: Factory) -> None:
    es = clustered_set(n_styles=10, products_per_style=2, images_per_product=2, single_product_styles=4)
    m = evaluate_embeddings(es)
    assert m["n_styles_single_product"] == 4 and m["n_items_not_queried"] == 8
    assert m["n_queries"] == 40 and m["n_gallery"] == 48


def test_split_selects_rows_and_empty_split_is_an_error(clustered_set: Factory) -> None:
    es = clustered_set(n_styles=20, images_per_product=1)
    es.ids["split"] = np.where(es.ids["style_id"].astype(int) < 10, "test", "train")
    m = evaluate_embeddings(es, split="test")
    assert m["n_gallery"] == 30 and m["split"] == "test"
    assert m["recall@1"] == reference(es.split("test"))["recall@1"]
    with pytest.raises(EmbeddingError, match="split 'val' is empty"):
        evaluate_embeddings(es, split="val")


def test_no_evaluable_queries(clustered_set: Factory) -> None:
    es = clustered_set(n_styles=0, single_product_styles=6)
    with pytest.raises(EmbeddingError, match="no evaluable queries.*two products"):
        evaluate_embeddings(es)


def test_labels_from_a_manifest(clustered_set: Factory, tmp_path: Path) -> None:
    es = clustered_set(n_styles=15, seed=11)
    manifest = es.ids.assign(split="test")
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    bare = EmbeddingSet(es.vectors, es.ids[["image_path", "product_id"]])
    joined = evaluate_embeddings(bare, manifest=tmp_path / "manifest.csv", split="test")
    direct = evaluate_embeddings(es)
    assert joined["recall@1"] == direct["recall@1"] and joined["map@r"] == direct["map@r"]


def test_manifest_missing_images(clustered_set: Factory, tmp_path: Path) -> None:
    es = clustered_set(n_styles=5)
    es.ids.iloc[:-2].to_csv(tmp_path / "manifest.csv", index=False)
    with pytest.raises(ManifestError, match="2 embedded image"):
        evaluate_embeddings(es, manifest=tmp_path / "manifest.csv")
