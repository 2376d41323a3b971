"""Shared index plumbing: ``(offset, block)`` iteration and dropping each query's own row from its neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from colorvariants.retrieval.index.base import drop_self, exact_knn, iter_unit_batches, with_offsets


class TestWithOffsets:
    @pytest.mark.parametrize("batch_rows", [1, 3, 7, 100])
    def test_offsets_count_the_rows_before_each_block(self, batch_rows: int) -> None:
        x = np.random.default_rng(0).standard_normal((7, 4)).astype(np.float32)
        pairs = list(with_offsets(iter_unit_batches(x, batch_rows=batch_rows)))
        assert [o for o, _ in pairs] == list(range(0, 7, batch_rows))
        np.testing.assert_allclose(np.concatenate([b for _, b in pairs]), x / np.linalg.norm(x, axis=1)[:, None],
                                   rtol=1e-6)

    def test_blocks_of_several_sources_are_numbered_on(self) -> None:
        blocks = [np.zeros((2, 3)), np.zeros((0, 3)), np.zeros((5, 3)), np.zeros((1, 3))]
        assert [o for o, _ in with_offsets(blocks)] == [0, 2, 2, 7]

    def test_empty(self) -> None:
        assert list(with_offsets([])) == []

    def test_exact_knn_over_offset_blocks_equals_one_block(self) -> None:
        x = np.random.default_rng(1).standard_normal((50, 8)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        whole = exact_knn(lambda: with_offsets([x]), x[:10], 5, use_gpu=False)
        blocked = exact_knn(lambda: with_offsets(iter_unit_batches(x, batch_rows=7, normalized=True)), x[:10], 5,
                            use_gpu=False)
        np.testing.assert_array_equal(whole[1], blocked[1])


class TestDropSelf:
    def test_own_row_dropped_wherever_it_stands(self) -> None:
        rows = np.array([[0, 5, 6], [4, 1, 7], [8, 9, 2]])
        sims = np.array([[1.0, 0.9, 0.8], [0.95, 0.9, 0.7], [0.9, 0.8, 0.7]], dtype=np.float32)
        s, r = drop_self(sims, rows, np.array([0, 1, 2]), 2)
        np.testing.assert_array_equal(r, [[5, 6], [4, 7], [8, 9]])
        np.testing.assert_array_equal(s, np.array([[0.9, 0.8], [0.95, 0.7], [0.9, 0.8]], dtype=np.float32))

    def test_absent_own_row_drops_the_last_neighbour(self) -> None:
        rows = np.array([[3, 4, 5], [-1, -1, -1]])
        s, r = drop_self(np.zeros(rows.shape, np.float32), rows, np.array([0, 1]), 2)
        np.testing.assert_array_equal(r, [[3, 4], [-1, -1]])
        assert s.shape == (2, 2)
