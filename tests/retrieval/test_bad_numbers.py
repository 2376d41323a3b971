"""Bad numbers never become a silent wrong metric: NaN/inf and zero vectors, repeated images, a product under two
styles, empty splits and styles with one product raise a clear error or are handled as documented, in every
consumer (evaluate, index build/add/search, dedup), also for sets built in memory that never went through ``load``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from colorvariants.errors import EmbeddingError
from colorvariants.retrieval.dedup import find_groups
from colorvariants.retrieval.evaluate import evaluate_embeddings
from colorvariants.retrieval.index import add, build_index
from colorvariants.retrieval.store import EmbeddingSet

Factory = Callable[..., EmbeddingSet]
CONSUMERS: dict[str, Callable[[EmbeddingSet], Any]] = {
    "evaluate": evaluate_embeddings,
    "index build": lambda es: build_index(es, kind="flat"),
    "dedup": lambda es: find_groups(es, threshold=0.5),
}


def _with_row(es: EmbeddingSet, row: int, value: np.ndarray) -> EmbeddingSet:
    vectors = np.array(es.vectors)
    vectors[row] = value
    return EmbeddingSet(vectors, es.ids, {})


@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
@pytest.mark.parametrize(("bad", "message"), [
    (np.nan, "NaN or inf"), (np.inf, "NaN or inf"), (-np.inf, "NaN or inf"), (0.0, "all zeros"),
])
def test_nonfinite_and_zero_vectors_are_refused_by_every_consumer(
    clustered_set: Factory, consumer: str, bad: float, message: str
) -> None:
    es = clustered_set(n_styles=10)
    value = np.zeros(es.dim, np.float32) if bad == 0.0 else np.full(es.dim, 1.0, np.float32)
    if bad != 0.0:
        value[3] = bad  # one bad coordinate is enough
    broken = _with_row(es, 7, value)
    with pytest.raises(EmbeddingError, match=rf"{message}.*row 7 \({broken.ids.at[7, 'image_path']}\)"):
        CONSUMERS[consumer](broken)


def test_index_add_and_search_refuse_bad_vectors(clustered_set: Factory) -> None:
    es = clustered_set(n_styles=10)
    bundle = build_index(es, kind="flat")
    more = clustered_set(n_styles=2, seed=9)
    more.ids["image_path"] = "new/" + more.ids["image_path"]
    with pytest.raises(EmbeddingError, match="NaN or inf"):
        add(bundle, _with_row(more, 0, np.full(es.dim, np.nan, np.float32)))
    queries = np.array(es.vectors[:3])
    queries[1] = np.nan
    with pytest.raises(EmbeddingError, match=r"query row\(s\) \[1\]"):
        bundle.search(queries, 5)
    with pytest.raises(EmbeddingError, match=r"query row\(s\) \[0\]"):
        bundle.search(np.zeros((1, es.dim), np.float32), 5)


def test_a_validated_set_is_not_scanned_again(clustered_set: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loaded (or validated) sets carry that through subset/split/with_ids: one scan per run, not one per step."""
    es = clustered_set(n_styles=10, split="test")
    es.validate()
    calls = []
    monkeypatch.setattr(EmbeddingSet, "validate", lambda self, source=None: calls.append(1))
    evaluate_embeddings(es, split="test")
    assert calls == []


def test_a_repeated_image_is_refused_by_evaluate(clustered_set: Factory) -> None:
    es = clustered_set(n_styles=10)
    doubled = EmbeddingSet.concatenate([es, es.subset([0, 1])])  # two sets that overlap
    with pytest.raises(EmbeddingError, match=r"2 row\(s\) repeat an image .*count twice"):
        evaluate_embeddings(doubled)


def test_a_product_under_two_styles_is_refused_by_evaluate(clustered_set: Factory) -> None:
    es = clustered_set(n_styles=10)
    ids = es.ids.copy()
    ids.loc[0, "style_id"] = ids.loc[len(ids) - 1, "style_id"]  # one image of product 0000 in another style
    with pytest.raises(EmbeddingError, match=r"\['0000'\] appear under two or more style_ids"):
        evaluate_embeddings(EmbeddingSet(es.vectors, ids, {}))


def test_repeated_images_are_grouped_together_by_dedup(clustered_set: Factory) -> None:
    """Documented handling: dedup's job is finding the same thing twice, so a repeated row joins its twin."""
    es = clustered_set(n_styles=10)
    doubled = EmbeddingSet.concatenate([es, es.subset([5])])
    frame = find_groups(doubled, threshold=0.9).frame
    twins = frame.loc[frame["image_path"] == es.ids.at[5, "image_path"], "group_id"]
    assert len(twins) == 2 and twins.nunique() == 1


class TestEmptyAndDegenerate:
    def test_empty_split(self, clustered_set: Factory) -> None:
        with pytest.raises(EmbeddingError, match=r"split 'test' is empty; splits present: \['train'\]"):
            evaluate_embeddings(clustered_set(n_styles=5, split="train"), split="test")

    @pytest.mark.parametrize("consumer", sorted(CONSUMERS))
    def test_empty_set(self, consumer: str) -> None:
        empty = EmbeddingSet(np.zeros((0, 8), np.float32), pd.DataFrame({"image_path": [], "product_id": []}))
        with pytest.raises(EmbeddingError, match="empty"):
            CONSUMERS[consumer](empty)

    def test_only_single_product_styles_is_an_error_not_a_zero(self, clustered_set: Factory) -> None:
        es = clustered_set(n_styles=0, single_product_styles=8)
        with pytest.raises(EmbeddingError, match="no evaluable queries"):
            evaluate_embeddings(es)

    def test_single_product_styles_stay_in_the_gallery_and_are_counted(self, clustered_set: Factory) -> None:
        es = clustered_set(n_styles=10, single_product_styles=4, images_per_product=2)
        metrics = evaluate_embeddings(es)
        assert metrics["n_styles_single_product"] == 4
        assert metrics["n_items_not_queried"] == 8 and metrics["n_gallery"] == es.count
