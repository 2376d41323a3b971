"""Fixtures for the retrieval tests: small deterministic clustered embedding sets with style labels."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import faiss
import numpy as np
import pandas as pd
import pytest

from colorvariants.retrieval.store import EmbeddingSet


def make_clustered_set(
    n_styles: int = 40,
    products_per_style: int = 3,
    images_per_product: int = 2,
    d: int = 16,
    style_noise: float = 0.5,
    image_noise: float = 0.3,
    single_product_styles: int = 0,
    seed: int = 0,
    split: str | None = None,
) -> EmbeddingSet:
    """Vectors = style centre + product offset + image noise, so variants are near, other styles far.

    Ids: image_path ``s{style}/p{product}/{image}.jpg``, string product_id and style_id; ``split`` when given.
    ``single_product_styles`` extra styles have one product each (no variant to find).
    """
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, int]] = []
    pid = 0
    for s in range(n_styles + single_product_styles):
        n_products = products_per_style if s < n_styles else 1
        for _ in range(n_products):
            rows.extend((s, pid) for _ in range(images_per_product))
            pid += 1
    style = np.array([r[0] for r in rows])
    product = np.array([r[1] for r in rows])
    centres = rng.standard_normal((style.max() + 1, d))
    offsets = rng.standard_normal((product.max() + 1, d)) * style_noise
    x = centres[style] + offsets[product] + rng.standard_normal((len(rows), d)) * image_noise
    ids = pd.DataFrame(
        {
            "image_path": [f"s{s}/p{p}/{i}.jpg" for i, (s, p) in enumerate(rows)],
            "product_id": [f"{p:04d}" for p in product],
            "style_id": [f"{s:03d}" for s in style],
        }
    )
    if split is not None:
        ids["split"] = split
    return EmbeddingSet(x.astype(np.float32), ids, {"method": "synthetic"})


@pytest.fixture
def clustered_set() -> Callable[..., EmbeddingSet]:
    """Factory of clustered embedding sets (see ``make_clustered_set``)."""
    return make_clustered_set


@pytest.fixture(autouse=True)
def single_threaded_faiss() -> Iterator[None]:
    """Run faiss on one thread in these tests (restored after each): the sets are tiny, and on a busy machine
    OpenMP threads spin-waiting on each other made PQ training 4x slower than one thread."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)
