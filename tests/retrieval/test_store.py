"""EmbeddingSet: atomic save, memory-mapped load, and every validation a user can trip over."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from colorvariants.errors import EmbeddingError
from colorvariants.retrieval.store import EmbeddingSet, EmbeddingWriter, normalize_rows

Factory = Callable[..., EmbeddingSet]


def test_round_trip_normalises_and_keeps_ids_as_strings(tmp_path: Path, clustered_set: Factory) -> None:
    es = clustered_set(n_styles=5)
    es.save(tmp_path / "E")
    back = EmbeddingSet.load(tmp_path / "E")
    assert isinstance(back.vectors, np.memmap)
    np.testing.assert_allclose(back.vectors, normalize_rows(es.vectors), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(back.vectors, axis=1), 1.0, rtol=1e-5)
    assert back.ids["product_id"].tolist() == es.ids["product_id"].tolist()  # "0007" stays "0007"
    assert back.normalized and back.unit_vectors() is back.vectors
    meta = json.loads((tmp_path / "E" / "meta.json").read_text())
    assert meta["format"] == "colorvariants.embeddings" and meta["version"] == 1
    assert (meta["dim"], meta["count"], meta["method"]) == (es.dim, es.count, "synthetic")


def test_save_does_not_mark_in_memory_vectors_normalised(tmp_path: Path, clustered_set: Factory) -> None:
    es = clustered_set(n_styles=3)
    es.save(tmp_path / "E")
    assert not es.normalized
    np.testing.assert_allclose(np.linalg.norm(es.unit_vectors(), axis=1), 1.0, rtol=1e-5)


def test_load_without_mmap_is_in_memory(tmp_path: Path, clustered_set: Factory) -> None:
    clustered_set(n_styles=3).save(tmp_path / "E")
    assert not isinstance(EmbeddingSet.load(tmp_path / "E", mmap=False).vectors, np.memmap)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_rows_are_named_and_nothing_is_written(
    tmp_path: Path, clustered_set: Factory, bad: float
) -> None:
    es = clustered_set(n_styles=3)
    es.vectors[4, 2] = bad
    with pytest.raises(EmbeddingError, match=r"NaN or inf: row 4 \(s\d/p\d/4.jpg\).*Fix"):
        es.save(tmp_path / "E")
    assert not (tmp_path / "E" / "meta.json").exists()


def test_zero_rows_are_an_error_on_load(tmp_path: Path, clustered_set: Factory) -> None:
    es = clustered_set(n_styles=3)
    es.save(tmp_path / "E")
    arr = np.load(tmp_path / "E" / "embeddings.npy", mmap_mode="r+")
    arr[[2, 7]] = 0.0
    arr.flush()
    del arr
    with pytest.raises(EmbeddingError, match=r"2 vector\(s\) are all zeros.*: row 2 \(s0/p1/2.jpg\), row 7"):
        EmbeddingSet.load(tmp_path / "E")


def test_count_mismatch_between_npy_and_ids(tmp_path: Path, clustered_set: Factory) -> None:
    es = clustered_set(n_styles=3)
    es.save(tmp_path / "E")
    ids = pd.read_parquet(tmp_path / "E" / "ids.parquet").iloc[:-1]
    ids.to_parquet(tmp_path / "E" / "ids.parquet", index=False)
    with pytest.raises(EmbeddingError, match="ids.parquet"):
        EmbeddingSet.load(tmp_path / "E")


def test_count_mismatch_in_memory() -> None:
    with pytest.raises(EmbeddingError, match="3 vectors but 2 id rows"):
        ids = pd.DataFrame({"image_path": ["a", "b"], "product_id": ["1", "2"]})
        EmbeddingSet(np.ones((3, 4), np.float32), ids)


def test_npy_replaced_by_another_write(tmp_path: Path, clustered_set: Factory) -> None:
    clustered_set(n_styles=3).save(tmp_path / "E")
    np.save(tmp_path / "E" / "embeddings.npy", np.ones((5, 16), np.float32))
    with pytest.raises(EmbeddingError, match="mixes two writes"):
        EmbeddingSet.load(tmp_path / "E")


def test_truncated_npy(tmp_path: Path, clustered_set: Factory) -> None:
    clustered_set(n_styles=3).save(tmp_path / "E")
    path = tmp_path / "E" / "embeddings.npy"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(EmbeddingError, match="truncated or corrupt"):
        EmbeddingSet.load(tmp_path / "E")


def test_wrong_version(tmp_path: Path, clustered_set: Factory) -> None:
    clustered_set(n_styles=3).save(tmp_path / "E")
    meta_path = tmp_path / "E" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(EmbeddingError, match="version 99.*reads version 1"):
        EmbeddingSet.load(tmp_path / "E")


def test_unfinished_write_has_no_meta(tmp_path: Path, clustered_set: Factory) -> None:
    clustered_set(n_styles=3).save(tmp_path / "E")
    (tmp_path / "E" / "meta.json").unlink()
    with pytest.raises(EmbeddingError, match="unfinished"):
        EmbeddingSet.load(tmp_path / "E")


def test_missing_id_columns(tmp_path: Path) -> None:
    es = EmbeddingSet(np.ones((2, 3), np.float32), pd.DataFrame({"image_path": ["a", "b"]}))
    with pytest.raises(EmbeddingError, match="product_id"):
        es.save(tmp_path / "E")


def test_split_selection_and_empty_split(clustered_set: Factory) -> None:
    es = clustered_set(n_styles=4)
    es.ids["split"] = np.where(np.arange(es.count) < 10, "test", "train")
    test = es.split("test")
    assert test.count == 10 and set(test.ids["split"]) == {"test"}
    np.testing.assert_array_equal(test.vectors, es.vectors[:10])
    with pytest.raises(EmbeddingError, match=r"split 'val' is empty; splits present: \['test', 'train'\]"):
        es.split("val")


def test_concatenate_keeps_order(clustered_set: Factory) -> None:
    a, b = clustered_set(n_styles=2, seed=1), clustered_set(n_styles=3, seed=2)
    both = EmbeddingSet.concatenate([a, b])
    assert both.count == a.count + b.count
    np.testing.assert_array_equal(both.vectors[a.count :], b.vectors)
    assert both.ids["image_path"].tolist() == a.ids["image_path"].tolist() + b.ids["image_path"].tolist()


class TestEmbeddingWriter:
    def test_batches_in_any_order_give_the_same_set(self, tmp_path: Path, clustered_set: Factory) -> None:
        es = clustered_set(n_styles=4)
        with EmbeddingWriter(tmp_path / "W", es.count, es.dim, es.ids, {"method": "m"}) as w:
            w.write(8, es.vectors[8:])
            w.write(0, es.vectors[:8])
        back = EmbeddingSet.load(tmp_path / "W")
        np.testing.assert_allclose(back.vectors, normalize_rows(es.vectors), rtol=1e-6)
        assert back.meta["method"] == "m" and not list(tmp_path.glob("W/.*partial*"))

    def test_unwritten_rows_are_an_error(self, tmp_path: Path, clustered_set: Factory) -> None:
        es = clustered_set(n_styles=2)
        w = EmbeddingWriter(tmp_path / "W", es.count, es.dim, es.ids)
        w.write(0, es.vectors[:3])
        with pytest.raises(EmbeddingError, match="never written"):
            w.close()
        assert not (tmp_path / "W" / "meta.json").exists()

    def test_exception_discards_partial_keeps_old_set(self, tmp_path: Path, clustered_set: Factory) -> None:
        old = clustered_set(n_styles=2, seed=3)
        old.save(tmp_path / "W")
        with pytest.raises(RuntimeError), EmbeddingWriter(tmp_path / "W", old.count, old.dim, old.ids) as w:
            w.write(0, old.vectors[:2])
            raise RuntimeError("killed")
        assert EmbeddingSet.load(tmp_path / "W").count == old.count
        assert not list((tmp_path / "W").glob(".*partial*"))
