"""Sharded IVF-PQ: train on a sample across shards, fill per shard, merge == one build over the whole set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from colorvariants.errors import EmbeddingError
from colorvariants.retrieval.index import build_index, build_sharded_ivfpq, load_index
from colorvariants.retrieval.store import EmbeddingSet

PARAMS = {"nlist": 16, "m": 8, "nbits": 6}


@pytest.fixture(scope="module")
def whole() -> EmbeddingSet:
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((150, 32))
    style = rng.integers(0, 150, 3000)
    x = centres[style] + 0.4 * rng.standard_normal((3000, 32))
    ids = pd.DataFrame({
        "image_path": [f"i{i}.jpg" for i in range(3000)],
        "product_id": [str(i) for i in range(3000)],
        "style_id": style.astype(str),
    })
    return EmbeddingSet(x.astype(np.float32), ids)


def write_shards(es: EmbeddingSet, root: Path, bounds: list[int]) -> list[Path]:
    paths = []
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        es.subset(np.arange(a, b)).save(root / f"shard{i}")
        paths.append(root / f"shard{i}")
    return paths


def test_sharded_merge_equals_single_build(whole: EmbeddingSet, tmp_path: Path) -> None:
    single = build_index(whole, kind="ivfpq", params=PARAMS, fidelity_queries=200)
    shards = write_shards(whole, tmp_path, [0, 700, 1900, 3000])
    merged = build_sharded_ivfpq(shards, tmp_path / "I", params=PARAMS, fidelity_queries=200)
    assert merged.count == 3000 and merged.ids["image_path"].tolist() == whole.ids["image_path"].tolist()
    for nprobe in (1, 4, 16):
        for b in (single, merged):
            b.index.nprobe = nprobe
        d1, i1 = single.search(whole.vectors[::7], k=10)
        d2, i2 = merged.search(whole.vectors[::7], k=10)
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_allclose(d1, d2, rtol=1e-6)
    # The saved merged index loads, validates, and keeps the tuned search parameter and fidelity.
    loaded = load_index(tmp_path / "I")
    assert loaded.kind == "ivfpq" and loaded.search_params == merged.search_params
    assert loaded.meta["fidelity"]["recall@10"] == pytest.approx(single.meta["fidelity"]["recall@10"])
    assert [s["count"] for s in loaded.meta["shards"]] == [700, 1200, 1100]


def test_shards_of_different_dims_are_refused(whole: EmbeddingSet, tmp_path: Path) -> None:
    whole.subset(np.arange(100)).save(tmp_path / "a")
    other = pd.DataFrame({"image_path": list("abcde"), "product_id": list("abcde")})
    EmbeddingSet(np.ones((5, 8), np.float32), other).save(tmp_path / "b")
    with pytest.raises(EmbeddingError, match="different dims"):
        build_sharded_ivfpq([tmp_path / "a", tmp_path / "b"], params=PARAMS)


@pytest.mark.slow
def test_parallel_workers_give_the_same_index(whole: EmbeddingSet, tmp_path: Path) -> None:
    shards = write_shards(whole, tmp_path, [0, 1500, 3000])
    serial = build_sharded_ivfpq(shards, params=PARAMS, fidelity_queries=100)
    parallel = build_sharded_ivfpq(shards, params=PARAMS, fidelity_queries=100, workers=2)
    q = whole.vectors[::11]
    np.testing.assert_array_equal(serial.search(q, k=10)[1], parallel.search(q, k=10)[1])
