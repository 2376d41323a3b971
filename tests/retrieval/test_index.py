"""Index kinds, auto choice, tuning/fidelity, save/load validation and appending new products."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import pandas as pd
import pytest

from colorvariants.errors import EmbeddingError, IndexFileError
from colorvariants.retrieval.index import (
    INDEX_KINDS,
    AutoRule,
    add,
    build_index,
    choose_kind,
    load_index,
    parse_memory,
)
from colorvariants.retrieval.store import EmbeddingSet, normalize_rows

Factory = Callable[..., EmbeddingSet]
KINDS = ["flat", "ivf", "hnsw", "ivfpq"]


@pytest.fixture(scope="module")
def medium_set() -> EmbeddingSet:
    """1200 clustered 16-d vectors: big enough for IVF cells and PQ codebooks, small enough to build in ms."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((200, 16))
    style = np.repeat(np.arange(200), 6)
    x = centres[style] + 0.35 * rng.standard_normal((style.size, 16))
    ids = pd.DataFrame({"image_path": [f"img{i}.jpg" for i in range(style.size)],
                        "product_id": [str(i // 2) for i in range(style.size)],
                        "style_id": style.astype(str)})
    return EmbeddingSet(x.astype(np.float32), ids)


def exact_top(x: np.ndarray, k: int) -> np.ndarray:
    xn = normalize_rows(x)
    return np.argsort(-(xn @ xn.T), axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("kind", KINDS)
class TestEveryKind:
    def test_builds_with_cosine_and_reports_fidelity(self, kind: str, medium_set: EmbeddingSet) -> None:
        bundle = build_index(medium_set, kind=kind, fidelity_queries=300)
        assert bundle.meta["kind"] == kind and bundle.count == medium_set.count
        assert bundle.index.metric_type == faiss.METRIC_INNER_PRODUCT
        fid = bundle.meta["fidelity"]
        assert 0.0 < fid["recall@10"] <= 1.0 and fid["n_queries"] == 300
        if kind != "ivfpq":  # full-vector kinds reach the target; PQ is capped by quantisation
            assert fid["reached"] and fid["recall@10"] >= 0.9
        sims, rows = bundle.search(medium_set.vectors[:50], k=5)
        # Similarities are cosines (queries normalised here) and each vector's nearest item is itself.
        if kind != "ivfpq":
            assert (rows[:, 0] == np.arange(50)).mean() >= 0.95
            np.testing.assert_allclose(sims[:, 0], 1.0, atol=1e-4)

    def test_save_load_round_trip_gives_identical_results(
        self, kind: str, medium_set: EmbeddingSet, tmp_path: Path
    ) -> None:
        bundle = build_index(medium_set, kind=kind, fidelity_queries=200)
        before = bundle.search(medium_set.vectors[:40], k=10)
        bundle.save(tmp_path / "I")
        loaded = load_index(tmp_path / "I", expected_dim=16)
        after = loaded.search(medium_set.vectors[:40], k=10)
        np.testing.assert_array_equal(before[1], after[1])
        np.testing.assert_allclose(before[0], after[0])
        assert loaded.search_params == bundle.search_params and loaded.kind == kind
        assert loaded.ids.equals(bundle.ids)
        meta = json.loads((tmp_path / "I" / "meta.json").read_text())
        assert (meta["dim"], meta["count"], meta["version"]) == (16, medium_set.count, 1)
        assert meta["metric"] == "inner_product"

    def test_add_appends_in_order(self, kind: str, medium_set: EmbeddingSet, tmp_path: Path) -> None:
        first, second = medium_set.subset(np.arange(900)), medium_set.subset(np.arange(900, 1200))
        bundle = build_index(first, kind=kind, fidelity_queries=100)
        bundle.save(tmp_path / "I")
        grown = add(load_index(tmp_path / "I"), second)
        grown.save(tmp_path / "I")
        loaded = load_index(tmp_path / "I")
        assert loaded.count == 1200 and loaded.meta["count"] == 1200
        assert loaded.ids["image_path"].tolist() == medium_set.ids["image_path"].tolist()
        if kind != "ivfpq":
            _, rows = loaded.search(second.vectors, k=1)
            assert (rows[:, 0] == np.arange(900, 1200)).mean() >= 0.95


def test_ivf_exhaustive_probe_equals_exact(medium_set: EmbeddingSet) -> None:
    bundle = build_index(medium_set, kind="ivf", fidelity_queries=100)
    INDEX_KINDS["ivf"].apply_search_params(bundle.index, {"nprobe": bundle.meta["params"]["nlist"]})
    _, rows = bundle.search(medium_set.vectors[:100], k=10)
    assert (rows == exact_top(medium_set.vectors, 10)[:100]).mean() > 0.999


def test_tuning_picks_the_smallest_knob_reaching_the_target(medium_set: EmbeddingSet) -> None:
    bundle = build_index(medium_set, kind="ivf", target_recall=0.9, fidelity_queries=300)
    tuning = bundle.meta["fidelity"]["tuning"]
    chosen = bundle.search_params["nprobe"]
    assert tuning[-1]["nprobe"] == chosen and tuning[-1]["recall@10"] >= 0.9
    # Earlier (cheaper) settings fell short of the target plus the sampling margin (2 standard errors).
    assert all(step["recall@10"] < 0.92 for step in tuning[:-1])
    assert [s["nprobe"] for s in tuning] == sorted(s["nprobe"] for s in tuning)


def test_unreachable_target_takes_the_cheapest_knob_on_the_plateau(medium_set: EmbeddingSet) -> None:
    # 2-byte PQ codes cap recall far below 0.99 whatever nprobe is: tuning must not pay for the largest one.
    bundle = build_index(medium_set, kind="ivfpq", params={"m": 2, "nbits": 4}, target_recall=0.99,
                         fidelity_queries=300)
    fid = bundle.meta["fidelity"]
    assert not fid["reached"] and fid["recall@10"] < 0.9
    tuning = fid["tuning"]
    best = max(step["recall@10"] for step in tuning)
    chosen = bundle.search_params["nprobe"]
    chosen_recall = next(step["recall@10"] for step in tuning if step["nprobe"] == chosen)
    assert best - 0.03 <= chosen_recall <= best
    assert chosen < max(step["nprobe"] for step in tuning)


class TestAuto:
    def test_small_data_gets_flat(self, medium_set: EmbeddingSet) -> None:
        bundle = build_index(medium_set, kind="auto", memory_budget="1GB")
        assert bundle.kind == "flat" and bundle.meta["fidelity"]["recall@10"] == pytest.approx(1.0)

    def test_tiny_budget_gets_ivfpq(self, medium_set: EmbeddingSet) -> None:
        flat_bytes = medium_set.count * medium_set.dim * 4
        bundle = build_index(medium_set, kind="auto", memory_budget=flat_bytes // 2)
        assert bundle.kind == "ivfpq"
        assert bundle.meta["memory_bytes_estimate"] <= flat_bytes // 2

    @pytest.mark.parametrize(
        ("n", "budget", "kind"),
        [
            (50_000, 10**9, "flat"),
            (1_000_000, 4 * 10**9, "hnsw"),  # 512 MB of vectors + ~270 MB of graph
            (1_000_000, 6 * 10**8, "ivf"),  # graph does not fit, vectors do
            (1_000_000, 2 * 10**8, "ivfpq"),
            (50_000_000, 40 * 10**9, "ivf"),  # past the single-graph limit
        ],
    )
    def test_rule_table(self, n: int, budget: int, kind: str) -> None:
        choice = choose_kind(n, 128, budget)
        assert choice.kind == kind, choice.reason
        assert choice.memory_bytes <= budget

    def test_ivfpq_code_shrinks_with_budget(self) -> None:
        roomy = choose_kind(10_000_000, 128, 10**9).params["m"]
        tight = choose_kind(10_000_000, 128, 3 * 10**8).params["m"]
        assert roomy > tight

    def test_nothing_fits(self) -> None:
        with pytest.raises(IndexFileError, match="memory-budget"):
            choose_kind(10_000_000, 128, 10**6)

    def test_rule_thresholds_are_configurable(self) -> None:
        assert choose_kind(5_000, 16, 10**9, AutoRule(flat_max=1000)).kind == "hnsw"


@pytest.mark.parametrize(
    ("text", "value"),
    [("4GB", 4 * 10**9), ("512MB", 512 * 10**6), ("1.5GiB", int(1.5 * 2**30)), ("1000", 1000)],
)
def test_parse_memory(text: str, value: int) -> None:
    assert parse_memory(text) == value


def test_parse_memory_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="4GB"):
        parse_memory("four gigs")


class TestLoadValidation:
    @pytest.fixture
    def saved(self, medium_set: EmbeddingSet, tmp_path: Path) -> Path:
        build_index(medium_set.subset(np.arange(300)), kind="flat", fidelity_queries=50).save(tmp_path / "I")
        return tmp_path / "I"

    def test_dim_mismatch(self, saved: Path) -> None:
        with pytest.raises(IndexFileError, match="16-d vectors but the embeddings are 32-d"):
            load_index(saved, expected_dim=32)

    def test_query_dim_mismatch(self, saved: Path) -> None:
        with pytest.raises(IndexFileError, match="queries have shape"):
            load_index(saved).search(np.ones((2, 8), np.float32), k=3)

    def test_truncated_index_file(self, saved: Path) -> None:
        path = saved / "index.faiss"
        path.write_bytes(path.read_bytes()[:1000])
        with pytest.raises(IndexFileError, match="truncated"):
            load_index(saved)

    def test_corrupt_index_file_of_the_recorded_size(self, saved: Path) -> None:
        path = saved / "index.faiss"
        path.write_bytes(b"\0" * path.stat().st_size)
        with pytest.raises(IndexFileError, match="FAISS cannot read it"):
            load_index(saved)

    def test_wrong_version(self, saved: Path) -> None:
        meta = json.loads((saved / "meta.json").read_text())
        meta["version"] = 2
        (saved / "meta.json").write_text(json.dumps(meta))
        with pytest.raises(IndexFileError, match="version 2"):
            load_index(saved)

    def test_count_mismatch_in_meta(self, saved: Path) -> None:
        meta = json.loads((saved / "meta.json").read_text())
        meta["count"] = 301
        (saved / "meta.json").write_text(json.dumps(meta))
        with pytest.raises(IndexFileError, match="holds 300 vectors"):
            load_index(saved)

    def test_unfinished_build(self, saved: Path) -> None:
        (saved / "meta.json").unlink()
        with pytest.raises(IndexFileError, match="unfinished"):
            load_index(saved)

    def test_embedding_folder_is_not_an_index(self, medium_set: EmbeddingSet, tmp_path: Path) -> None:
        medium_set.save(tmp_path / "E")
        with pytest.raises(IndexFileError, match="not an index folder"):
            load_index(tmp_path / "E")


class TestAddErrors:
    def test_dim_mismatch(self, medium_set: EmbeddingSet, clustered_set: Factory) -> None:
        bundle = build_index(medium_set.subset(np.arange(200)), kind="flat", fidelity_queries=20)
        with pytest.raises(IndexFileError, match="16-d vectors but the new embeddings are 8-d"):
            add(bundle, clustered_set(n_styles=2, d=8))

    def test_duplicates_are_refused(self, medium_set: EmbeddingSet) -> None:
        part = medium_set.subset(np.arange(200))
        bundle = build_index(part, kind="flat", fidelity_queries=20)
        with pytest.raises(EmbeddingError, match="already in the index"):
            add(bundle, part.subset(np.arange(5)))
        assert bundle.count == 200  # nothing was added


def test_empty_set_cannot_be_indexed() -> None:
    empty = EmbeddingSet(np.zeros((0, 4), np.float32), pd.DataFrame({"image_path": [], "product_id": []}))
    with pytest.raises(EmbeddingError, match="empty"):
        build_index(empty)


def test_unknown_kind(medium_set: EmbeddingSet) -> None:
    with pytest.raises(ValueError, match="unknown index kind"):
        build_index(medium_set, kind="annoy")


def test_budgeted_ivfpq_refines_its_shortlist_past_the_pq_plateau(medium_set: EmbeddingSet) -> None:
    # 2-byte codes cap recall far below 0.9 whatever nprobe is; re-scoring the shortlist on 8-bit scalar-quantised
    # vectors (faiss IndexRefine) reaches the target, at N·D more bytes.
    plain = build_index(medium_set, kind="ivfpq", params={"m": 4, "nbits": 4}, target_recall=0.95,
                        fidelity_queries=300)
    refined = build_index(medium_set, kind="ivfpq", params={"m": 4, "nbits": 4, "refine": 1},
                          target_recall=0.95, fidelity_queries=300)
    assert plain.meta["fidelity"]["recall@10"] < 0.9
    assert refined.meta["fidelity"]["recall@10"] >= 0.95
    assert "Refine(SQ8)" in refined.meta["factory"]
    n, d = medium_set.count, medium_set.dim
    assert refined.meta["memory_bytes_estimate"] - plain.meta["memory_bytes_estimate"] == n * d + 8 * d


def test_auto_at_a_tight_budget_refines_when_it_fits() -> None:
    choice = choose_kind(1_000_000, 128, 2 * 10**8)  # the 1M benchmark's 200 MB row
    assert choice.kind == "ivfpq" and choice.params["refine"] == 1 and choice.params["m"] == 32
    assert choice.memory_bytes <= 2 * 10**8
    assert choose_kind(1_000_000, 128, 6 * 10**7).params["refine"] == 0  # too tight for the refine stage


def test_refined_ivfpq_round_trips(medium_set: EmbeddingSet, tmp_path: Path) -> None:
    bundle = build_index(medium_set, kind="ivfpq", params={"m": 4, "nbits": 4, "refine": 1}, fidelity_queries=200)
    bundle.save(tmp_path / "I")
    loaded = load_index(tmp_path / "I")
    q = medium_set.vectors[:50]
    np.testing.assert_array_equal(loaded.search(q, 10)[1], bundle.search(q, 10)[1])
