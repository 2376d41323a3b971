"""Colour-variant grouping: chaining guards, threshold calibration, product merging, output files, metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pandas as pd
import pytest

from colorvariants.errors import EmbeddingError, IndexFileError
from colorvariants.metrics.grouping import grouping_metrics
from colorvariants.retrieval.dedup import ColorVariantGroups, GroupResult, calibrate_threshold, find_groups
from colorvariants.retrieval.index import INDEX_KINDS, build_index
from colorvariants.retrieval.store import EmbeddingSet

Factory = Callable[..., EmbeddingSet]


def on_circle(
    degrees: list[float], products: list[str] | None = None, styles: list[str] | None = None
) -> EmbeddingSet:
    """Unit vectors in the plane at the given angles (cosine of two = cos of the angle between them)."""
    rad = np.deg2rad(degrees)
    x = np.stack([np.cos(rad), np.sin(rad)], axis=1).astype(np.float32)
    ids = pd.DataFrame({"image_path": [f"{i}.jpg" for i in range(len(degrees))],
                        "product_id": products or [f"p{i}" for i in range(len(degrees))]})
    if styles is not None:
        ids["style_id"] = styles
    return EmbeddingSet(x, ids)


def group_of(result: GroupResult) -> dict[str, int]:
    return dict(zip(result.frame["image_path"], result.frame["group_id"], strict=True))


class TestChainingGuards:
    # A ~ B ~ C: neighbours 25 degrees apart (cos 0.906) but A and C 50 degrees apart (cos 0.643); D is far.
    chain = staticmethod(lambda: on_circle([0, 25, 50, 180]))

    def test_without_guard_the_chain_is_one_group(self) -> None:
        g = group_of(find_groups(self.chain(), k=2, threshold=0.85, guard="none"))
        assert g["0.jpg"] == g["1.jpg"] == g["2.jpg"] != g["3.jpg"]

    @pytest.mark.parametrize("guard", ["diameter", "both"])
    def test_diameter_guard_splits_the_chain(self, guard: str) -> None:
        result = find_groups(self.chain(), k=2, threshold=0.85, guard=guard)
        g = group_of(result)
        assert g["0.jpg"] != g["2.jpg"]
        assert g["1.jpg"] in (g["0.jpg"], g["2.jpg"])  # B stays with one of its neighbours
        members = result.frame.groupby("group_id")["row"].apply(list)
        x = self.chain().vectors
        for rows in members:  # no group holds a pair less similar than the threshold
            assert (x[rows] @ x[rows].T).min() >= 0.85 - 1e-6

    def test_mutual_guard_drops_a_one_sided_link(self) -> None:
        # A tight cluster of 5 and an outsider X 20 degrees away (cos 0.94): X's 2 nearest are in the cluster,
        # but every member's 2 nearest are other members, so X's edges are one-sided.
        es = on_circle([0, 0.5, 1, 1.5, 2, 21])
        assert len(set(group_of(find_groups(es, k=2, threshold=0.9, guard="none")).values())) == 1
        g = group_of(find_groups(es, k=2, threshold=0.9, guard="mutual"))
        assert g["5.jpg"] != g["0.jpg"] and len({g[f"{i}.jpg"] for i in range(5)}) == 1

    def test_unknown_guard(self) -> None:
        with pytest.raises(ValueError, match="guard must be one of"):
            ColorVariantGroups(guard="maybe")


class TestCalibration:
    def test_hand_example_picks_the_lowest_threshold_at_target(self) -> None:
        sims = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6])
        same = np.array([True, True, False, True, True, False])
        cal = calibrate_threshold(sims, same, target_precision=0.8)
        # Cuts: 0.95 -> 1, 0.9 -> 1, 0.85 -> 2/3, 0.8 -> 3/4, 0.7 -> 4/5 (lowest >= 0.8), 0.6 -> 4/6.
        assert cal.threshold == 0.7 and cal.precision == pytest.approx(0.8)
        assert cal.recall == 1.0 and cal.n_pairs_kept == 5 and cal.n_positive_pairs == 4

    def test_ties_are_kept_or_dropped_together(self) -> None:
        cal = calibrate_threshold(np.array([0.9, 0.8, 0.8]), np.array([True, True, False]), 0.7)
        assert cal.threshold == 0.9  # cutting between the two 0.8 pairs is impossible: 2/3 < 0.7

    def test_unreachable_target(self) -> None:
        with pytest.raises(EmbeddingError, match=r"best 0.5.*--target-precision"):
            calibrate_threshold(np.array([0.9, 0.8]), np.array([False, True]), 0.9)

    @pytest.mark.parametrize("target", [0.8, 0.9, 0.97])
    def test_hits_target_on_labelled_data(self, clustered_set: Factory, target: float) -> None:
        es = clustered_set(n_styles=60, products_per_style=3, images_per_product=2, style_noise=0.8,
                           image_noise=0.6, seed=1)
        result = find_groups(es, k=10, target_precision=target, guard="both")
        cal, curve = result.calibration, result.curve
        assert cal is not None and curve is not None and cal.threshold == result.threshold
        # The groups written are the chosen point of the grouping curve: they reach the target pair precision,
        # and no threshold on the curve keeps the target with more recall.
        assert result.metrics is not None
        assert result.metrics["pairwise_precision"] >= target == cal.target_precision
        chosen = curve.points[curve.chosen]
        assert chosen.threshold == result.threshold
        assert chosen.pair_recall == pytest.approx(result.metrics["pairwise_recall"])
        assert all(p.pair_recall <= chosen.pair_recall for p in curve.points if p.pair_precision >= target)
        assert any(p.pair_precision < target for p in curve.points)  # there are wrong groupings to refuse

    def test_partially_labelled_styles(self, clustered_set: Factory) -> None:
        es = clustered_set(n_styles=40, style_noise=0.5, image_noise=0.3, seed=2)
        labels = es.ids["style_id"].where(es.ids["style_id"].astype(int) % 2 == 0, "")
        result = find_groups(es, labels=labels.to_numpy())
        assert result.calibration is not None
        assert result.metrics is not None and result.metrics["n_products_labelled"] == 60

    def test_no_threshold_and_no_labels(self) -> None:
        with pytest.raises(EmbeddingError, match="--threshold"):
            find_groups(on_circle([0, 10, 20]))


def test_well_separated_styles_are_recovered_exactly(clustered_set: Factory) -> None:
    # Every same-style pair is more similar than every cross-style pair, so precision 1.0 keeps all of them.
    es = clustered_set(
        n_styles=50, products_per_style=3, images_per_product=2, d=64, style_noise=0.3, image_noise=0.2
    )
    result = find_groups(es, target_precision=1.0)
    assert result.calibration is not None and result.calibration.recall == 1.0
    assert result.metrics is not None
    assert result.metrics["ari"] == 1.0 and result.metrics["pairwise_f1"] == 1.0
    assert result.size_distribution["n_groups"] == 50 and result.size_distribution["sizes"] == {"3": 50}
    per_product = result.frame.groupby("product_id")["group_id"].nunique()
    assert (per_product == 1).all()
    medoids = result.frame[result.frame["is_medoid"]]
    assert len(medoids) == 50 and (medoids["similarity_to_medoid"] > 0.999).all()
    assert (result.frame["similarity_to_medoid"] <= 1.0 + 1e-6).all()
    direct = grouping_metrics(es.ids["style_id"], result.frame.sort_values("row")["group_id"])
    assert direct["ari"] == 1.0


def test_images_of_one_product_share_a_group() -> None:
    es = on_circle([0, 5, 90], products=["p", "q", "p"])
    merged = group_of(find_groups(es, k=2, threshold=0.95, guard="none"))
    assert merged["0.jpg"] == merged["1.jpg"] == merged["2.jpg"]
    apart = group_of(find_groups(es, k=2, threshold=0.95, guard="none", merge_products=False))
    assert apart["0.jpg"] == apart["1.jpg"] != apart["2.jpg"]


def test_given_index_is_used_and_must_match(clustered_set: Factory) -> None:
    es = clustered_set(n_styles=20)
    index = build_index(es, kind="hnsw")
    result = find_groups(es, index=index, threshold=0.8)
    assert result.params["index_kind"] == "hnsw"
    with pytest.raises(IndexFileError, match="index built from these embeddings"):
        find_groups(es, index=build_index(es.subset(np.arange(10)), kind="flat"), threshold=0.8)
    shuffled = es.subset(np.random.default_rng(0).permutation(es.count))
    with pytest.raises(IndexFileError, match="first difference"):
        find_groups(shuffled, index=index, threshold=0.8)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_index_is_retuned_for_above_threshold_edges(clustered_set: Factory, kind: str) -> None:
    es = clustered_set(n_styles=150, products_per_style=3, images_per_product=2, d=32, style_noise=0.4,
                       image_noise=0.3, seed=5)
    exact = find_groups(es, index=build_index(es, kind="flat"), threshold=0.8)
    index = build_index(es, kind=kind, target_recall=0.999)  # an expensive knob, tuned for recall@10
    knob = INDEX_KINDS[kind].search_param
    expensive = index.search_params[knob]
    result = find_groups(es, index=index, threshold=0.8)
    tuning = result.params["edge_tuning"]
    assert tuning["edge_recall"] >= 0.99 and tuning["n_sample_edges"] > 0
    cheapest = INDEX_KINDS[kind].search_values(index.meta["params"])[0]
    assert tuning[knob] < expensive or expensive == cheapest  # cheaper: only above-threshold edges matter
    assert result.frame["group_id"].tolist() == exact.frame["group_id"].tolist()
    # The bundle keeps its own tuned setting for later searches.
    assert current_search_param(index.index, kind) == expensive


def current_search_param(index: Any, kind: str) -> int:
    read = {"hnsw": lambda: faiss.downcast_index(index).hnsw.efSearch,
            "ivf": lambda: faiss.extract_index_ivf(index).nprobe}
    return int(read[kind]())


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_save_by_extension(clustered_set: Factory, tmp_path: Path, suffix: str) -> None:
    result = find_groups(clustered_set(n_styles=8), threshold=0.8)
    path = result.save(tmp_path / f"groups{suffix}")
    read = {".csv": lambda p: pd.read_csv(p, dtype={"product_id": str, "style_id": str}),
            ".parquet": pd.read_parquet, ".json": lambda p: pd.DataFrame(json.loads(p.read_text()))}[suffix]
    back = read(path)
    assert list(back.columns[:4]) == ["group_id", "group_size", "group_products", "product_id"]
    assert back["image_path"].tolist() == result.frame["image_path"].tolist()
    assert back["product_id"].astype(str).tolist() == result.frame["product_id"].tolist()


def test_save_rejects_unknown_extension(clustered_set: Factory, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=".csv, .parquet or .json"):
        find_groups(clustered_set(n_styles=3), threshold=0.8).save(tmp_path / "groups.xlsx")
    assert not list(tmp_path.iterdir())
