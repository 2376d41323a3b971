"""A gallery over the memory budget is streamed block by block instead of copied into an index: same numbers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import colorvariants.retrieval.store.vectors as vectors
from colorvariants.retrieval.evaluate import evaluate_embeddings
from colorvariants.retrieval.store import EmbeddingSet

Factory = Callable[..., EmbeddingSet]


@pytest.mark.parametrize("block_rows", [1, 37, 10_000])
def test_streamed_gallery_gives_the_in_memory_numbers(
    clustered_set: Factory, monkeypatch: pytest.MonkeyPatch, block_rows: int
) -> None:
    es = clustered_set(n_styles=60, d=24, style_noise=2.0, image_noise=2.0, single_product_styles=20, seed=4)
    in_memory = evaluate_embeddings(es)
    monkeypatch.setattr(vectors, "CHUNK_BYTES", 4 * es.dim * block_rows)
    streamed = evaluate_embeddings(es, memory_budget=1000, max_result_entries=5000)
    assert streamed == in_memory
    assert 0.0 < in_memory["recall@1"] < 1.0  # a hard enough set for ranks to matter
