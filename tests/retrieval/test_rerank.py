"""Re-rankers on the sparse kNN graph: each agrees with its dense definition, and evaluate/query/dedup use them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import sparse

from colorvariants.retrieval.evaluate import evaluate_embeddings
from colorvariants.retrieval.rerank import (
    RERANKERS,
    Candidates,
    Database,
    catalog_candidates,
    knn_graph,
    make_reranker,
    rerank,
)
from colorvariants.retrieval.rerank.kreciprocal import shared_mass
from colorvariants.retrieval.store import EmbeddingSet, normalize_rows

Factory = Callable[..., EmbeddingSet]


def unit(n: int = 60, d: int = 8, seed: int = 0) -> np.ndarray:
    return normalize_rows(np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32))


class TestSpecs:
    def test_every_registered_name_builds_and_round_trips(self) -> None:
        for name in RERANKERS:
            rr = make_reranker(name)
            assert rr is not None and make_reranker(rr.spec()) == rr

    def test_settings_and_none(self) -> None:
        assert make_reranker("kreciprocal:k1=8,lam=0.5") == RERANKERS["kreciprocal"](k1=8, lam=0.5)
        assert make_reranker("none") is None and make_reranker(None) is None

    @pytest.mark.parametrize("spec, match", [("nope", "choose from"), ("csls:q=1", "no setting 'q'"),
                                             ("csls:k=x", "not a number")])
    def test_bad_specs(self, spec: str, match: str) -> None:
        with pytest.raises(ValueError, match=match):
            make_reranker(spec)


def dense_csls(x: np.ndarray, k: int) -> np.ndarray:
    s = x @ x.T
    np.fill_diagonal(s, -np.inf)
    r = np.sort(s, axis=1)[:, ::-1][:, :k].mean(axis=1)
    return 2 * s - r[:, None] - r[None, :]


def dense_dba(x: np.ndarray, n: int, alpha: float) -> np.ndarray:
    s = x @ x.T
    np.fill_diagonal(s, -np.inf)
    nbrs = np.argsort(-s, axis=1, kind="stable")[:, :n]
    w = np.maximum(np.take_along_axis(s, nbrs, 1), 0) ** alpha
    aug = normalize_rows(x + np.einsum("qk,qkd->qd", w, x[nbrs]))
    out = aug @ aug.T
    np.fill_diagonal(out, -np.inf)
    return out


@pytest.mark.parametrize("spec, dense", [
    ("csls:k=4", lambda x: dense_csls(x, 4)),
    ("dba:n=2,alpha=3", lambda x: dense_dba(x, 2, 3.0)),
])
def test_full_width_rerank_equals_the_dense_definition(spec: str, dense: Callable[[np.ndarray], np.ndarray]
                                                       ) -> None:
    x = unit()
    db = Database(x, knn_graph(x, x.shape[0] - 1))
    ranked = rerank(make_reranker(spec), db, catalog_candidates(db))  # type: ignore[arg-type]
    want = dense(x)
    got = np.take_along_axis(want, ranked.rows, 1)
    np.testing.assert_allclose(ranked.sims, got, rtol=1e-4, atol=1e-4)
    assert (np.diff(ranked.sims, axis=1) <= 1e-6).all()  # re-sorted, best first


def test_shared_mass_is_the_sum_of_minima() -> None:
    rng = np.random.default_rng(3)
    a = sparse.random(7, 12, density=0.4, random_state=1, format="csr", dtype=np.float64)
    b = sparse.random(12, 12, density=0.4, random_state=2, format="csr", dtype=np.float64)
    rows = rng.integers(-1, 12, size=(7, 5))
    got = shared_mass(a, b, rows)
    A, B = a.toarray(), b.toarray()
    for i in range(7):
        for j, r in enumerate(rows[i]):
            want = np.minimum(A[i], B[r]).sum() if r >= 0 else 0.0
            assert got[i, j] == pytest.approx(want)


def test_kreciprocal_reranks_towards_reciprocal_neighbours(clustered_set: Factory) -> None:
    # Hubs (images near everything) steal first ranks from cosine; k-reciprocal sets exclude them.
    es = clustered_set(n_styles=40, products_per_style=3, images_per_product=2, style_noise=0.7, image_noise=0.5)
    x = es.unit_vectors()
    style = es.ids["style_id"].to_numpy()
    db = Database(x, knn_graph(x, 30))
    plain = db.graph.head(20)
    ranked = rerank(make_reranker("kreciprocal:k1=10,k2=3"), db, catalog_candidates(db, 20))  # type: ignore[arg-type]

    def precision_at_5(rows: np.ndarray) -> float:
        return float((style[rows[:, :5]] == style[:, None]).mean())

    assert precision_at_5(ranked.rows) >= precision_at_5(plain.rows)
    assert set(map(tuple, np.sort(ranked.rows, 1))) == set(map(tuple, np.sort(plain.rows, 1)))  # same candidates


def test_outside_queries_are_reranked_like_catalog_images() -> None:
    # An outside query equal to a catalog vector (its own row unknown) gets CSLS scores from the same graph.
    x = unit(40)
    db = Database(x, knn_graph(x, 39))
    rr = make_reranker("csls:k=5")
    inside = rerank(rr, db, catalog_candidates(db))  # type: ignore[arg-type]
    q = Candidates(x[:3], db.graph.head(39).__class__(db.graph.rows[:3], db.graph.sims[:3]), np.full(3, -1))
    outside = rerank(rr, db, q)  # type: ignore[arg-type]
    np.testing.assert_array_equal(outside.rows, inside.rows[:3])


@pytest.mark.parametrize("spec", ["csls", "dba", "qe", "kreciprocal:k1=10,k2=3"])
def test_evaluate_with_rerank(clustered_set: Factory, spec: str) -> None:
    es = clustered_set(n_styles=30, style_noise=0.6, image_noise=0.4)
    plain = evaluate_embeddings(es)
    got = evaluate_embeddings(es, rerank=spec, candidates=20)
    assert got["rerank"] == make_reranker(spec).spec() and got["rerank_s"] >= 0  # type: ignore[union-attr]
    assert got["n_queries"] == plain["n_queries"]
    assert 0.0 <= got["recall@1"] <= got["recall@10"] <= 1.0
    assert abs(got["recall@20"] - plain["recall@20"]) <= 0.05  # the top 20 are re-ordered, not replaced


def test_evaluate_csls_equals_dense(clustered_set: Factory) -> None:
    es = clustered_set(n_styles=12, style_noise=0.6, image_noise=0.4)
    x = es.unit_vectors()
    got = evaluate_embeddings(es, rerank="csls", candidates=es.count)
    s = dense_csls(x, 10)
    style, product = es.ids["style_id"].to_numpy(), es.ids["product_id"].to_numpy()
    s[product[:, None] == product[None, :]] = -np.inf  # the gallery excludes the query's own product
    best = s.argmax(axis=1)
    has_variant = np.array([(style == style[i]).sum() > (product == product[i]).sum() for i in range(es.count)])
    want = float((style[best] == style)[has_variant].mean())
    assert got["recall@1"] == pytest.approx(want)


@pytest.mark.parametrize("spec", ["csls", "dba", "qe", "kreciprocal:k1=10,k2=3"])
def test_an_outside_copy_of_a_catalog_image_finds_it_first(clustered_set: Factory, spec: str) -> None:
    # What `query --rerank` does: new images searched in the index, re-ranked on the catalog's graph.
    es = clustered_set(n_styles=20, style_noise=0.6, image_noise=0.4)
    x = es.unit_vectors()
    db = Database(x, knn_graph(x, 20))
    sims = x[:5] @ x.T
    rows = np.argsort(-sims, axis=1, kind="stable")[:, :20]
    q = Candidates(x[:5], type(db.graph)(rows, np.take_along_axis(sims, rows, 1)), np.full(5, -1))
    ranked = rerank(make_reranker(spec), db, q)  # type: ignore[arg-type]
    np.testing.assert_array_equal(ranked.rows[:, 0], np.arange(5))


def test_query_rerank_needs_the_embeddings() -> None:
    from colorvariants.errors import EmbeddingError
    from colorvariants.retrieval.query import VariantFinder

    with pytest.raises(EmbeddingError, match="--embeddings"):  # before the model or the index is read
        VariantFinder("missing/model.pt", "missing/index", rerank="csls")
    with pytest.raises(ValueError, match="choose from"):
        VariantFinder("missing/model.pt", "missing/index", rerank="nope")
