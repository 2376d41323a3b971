"""recall@k, mAP@R and the brute-force protocol reference against hand-worked cases and naive loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from colorvariants.metrics.retrieval import (
    average_precision_at_r,
    exact_protocol_metrics,
    map_at_r,
    recall_at_k,
)


def naive_protocol(
    x: np.ndarray, style: np.ndarray, product: np.ndarray, ks: tuple[int, ...]
) -> dict[str, float]:
    """The protocol written as plainly as possible: one Python loop per query, no numpy tricks."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    recalls = {k: [] for k in ks}
    aps = []
    for q in range(len(x)):
        variants = {product[j] for j in range(len(x)) if style[j] == style[q]}
        if len(variants) < 2:
            continue
        gallery = [j for j in range(len(x)) if product[j] != product[q]]
        ranked = sorted(gallery, key=lambda j: -float(x[q] @ x[j]))
        hits = [style[j] == style[q] for j in ranked]
        for k in ks:
            recalls[k].append(any(hits[:k]))
        r = sum(hits)
        found, total = 0, 0.0
        for i, h in enumerate(hits[:r]):
            if h:
                found += 1
                total += found / (i + 1)
        aps.append(total / r)
    out = {f"recall@{k}": float(np.mean(v)) for k, v in recalls.items()}
    out["map@r"] = float(np.mean(aps))
    out["n_queries"] = len(aps)
    return out


def clustered(n_styles: int, seed: int, d: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    style = rng.integers(0, n_styles, size=n_styles * 5)
    product = style * 10 + rng.integers(0, 3, size=style.size)
    centres = rng.standard_normal((n_styles, d))
    x = centres[style] + rng.standard_normal((style.size, d)) * 0.8
    return x.astype(np.float32), style, product


class TestRecallAtK:
    def test_hand_example(self) -> None:
        hits = np.array([[False, True, False], [True, False, False], [False, False, False]])
        assert recall_at_k(hits, ks=(1, 2, 3)) == {"recall@1": 1 / 3, "recall@2": 2 / 3, "recall@3": 2 / 3}

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_monotone_in_k(self, seed: int) -> None:
        hits = np.random.default_rng(seed).random((50, 20)) < 0.05
        values = list(recall_at_k(hits, ks=range(1, 21)).values())
        assert values == sorted(values)

    def test_k_beyond_ranked_columns_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="pad"):
            recall_at_k(np.zeros((2, 3), dtype=bool), ks=(5,))

    def test_no_queries_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="no queries"):
            recall_at_k(np.zeros((0, 3), dtype=bool), ks=(1,))


class TestMapAtR:
    @pytest.mark.parametrize(
        ("hits", "r", "expected"),
        [
            ([True, True, False], 2, 1.0),
            ([False, True, True], 2, 0.25),  # only rank 2 is a hit among the first R=2: (1/2) / 2
            ([True, False, True], 2, 0.5),
            ([False, False, True], 1, 0.0),
            ([True, False, True, True], 3, (1 + 2 / 3) / 3),
        ],
    )
    def test_hand_examples(self, hits: list[bool], r: int, expected: float) -> None:
        assert map_at_r(np.array([hits]), [r]) == pytest.approx(expected)

    def test_mean_over_queries(self) -> None:
        hits = np.array([[True, False], [False, True]])
        assert map_at_r(hits, [1, 1]) == pytest.approx(0.5)
        assert average_precision_at_r(hits, [1, 1]).tolist() == [1.0, 0.0]

    def test_r_larger_than_ranking_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="search deeper"):
            map_at_r(np.ones((1, 2), dtype=bool), [3])

    def test_r_zero_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="R < 1"):
            map_at_r(np.ones((1, 2), dtype=bool), [0])


class TestExactProtocolMetrics:
    @pytest.mark.parametrize("seed", [0, 1, 2, 3])
    def test_equals_naive_loops(self, seed: int) -> None:
        x, style, product = clustered(12, seed)
        ks = (1, 5, 10, 20)
        got = exact_protocol_metrics(x, style, product, ks)
        want = naive_protocol(x, style, product, ks)
        assert got.keys() == want.keys()
        for key in want:
            assert got[key] == pytest.approx(want[key], abs=1e-12), key

    def test_invariant_to_item_order(self) -> None:
        x, style, product = clustered(15, seed=4)
        perm = np.random.default_rng(0).permutation(len(x))
        shuffled = exact_protocol_metrics(x[perm], style[perm], product[perm])
        assert exact_protocol_metrics(x, style, product) == shuffled

    def test_chunking_does_not_change_results(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import colorvariants.metrics.retrieval as mod

        x, style, product = clustered(15, seed=5)
        whole = exact_protocol_metrics(x, style, product)
        monkeypatch.setattr(mod, "_CHUNK_ENTRIES", len(x) * 3)  # three queries per chunk
        assert exact_protocol_metrics(x, style, product) == whole

    def test_accepts_torch_tensors_and_string_labels(self) -> None:
        x, style, product = clustered(10, seed=6)
        from_numpy = exact_protocol_metrics(x, style, product)
        tensors = [torch.from_numpy(a) for a in (x, style, product)]
        from_torch = exact_protocol_metrics(*tensors)
        from_strings = exact_protocol_metrics(x, [f"s{s}" for s in style], [f"p{p}" for p in product])
        assert from_torch == from_numpy == from_strings

    def test_single_product_styles_are_not_queries_but_stay_in_the_gallery(self) -> None:
        # Style 0 has two products (2 images each); style 1 has one product, its image just beyond product 0.
        x = np.array([[1, 0], [1, 0.05], [1, 0.4], [1, 0.45], [1, -0.15]], dtype=np.float32)
        style = np.array([0, 0, 0, 0, 1])
        product = np.array([0, 0, 1, 1, 2])
        m = exact_protocol_metrics(x, style, product, ks=(1, 2))
        assert m["n_queries"] == 4  # the style-1 image is never a query...
        # ...but it is in every gallery: it outranks the variants of the product-0 queries (rows 0 and 1).
        assert m["recall@1"] == pytest.approx(0.5)
        assert m["recall@2"] == 1.0

    def test_perfect_embedding_scores_one(self) -> None:
        style = np.repeat(np.arange(5), 4)
        product = np.arange(20) // 2
        x = np.eye(5, dtype=np.float32)[style] + 1e-3 * np.random.default_rng(0).standard_normal((20, 5))
        m = exact_protocol_metrics(x, style, product)
        assert m["recall@1"] == 1.0 and m["map@r"] == pytest.approx(1.0)

    def test_no_variants_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="two products"):
            exact_protocol_metrics(np.eye(3, dtype=np.float32), [0, 1, 2], [0, 1, 2])
