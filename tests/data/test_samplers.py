"""Tests for colorvariants.data.samplers: disjoint shards across simulated ranks, equal lengths, PK."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch.distributed as dist

from colorvariants.data.samplers import PKBatchSampler, RandomBatchSampler, resolve_world


def _ranks(make, world: int) -> list[list[list[int]]]:
    return [list(make(rank)) for rank in range(world)]


class TestRandomBatchSampler:
    @pytest.mark.parametrize("n", [100, 103, 7])
    @pytest.mark.parametrize("world", [1, 2, 3])
    def test_drop_last_disjoint_and_equal(self, n, world):
        per_rank = _ranks(lambda r: RandomBatchSampler(n, 4, seed=1, num_replicas=world, rank=r), world)
        lengths = {len(b) for b in per_rank}
        assert len(lengths) == 1 and lengths.pop() == n // (4 * world)
        assert len(RandomBatchSampler(n, 4, num_replicas=world, rank=0)) == n // (4 * world)
        seen = [i for batches in per_rank for batch in batches for i in batch]
        assert all(len(batch) == 4 for batches in per_rank for batch in batches)
        assert len(seen) == len(set(seen))  # nothing twice across ranks
        assert len(seen) == (n // (4 * world)) * 4 * world  # only the tail is dropped

    @pytest.mark.parametrize("n,world", [(103, 2), (10, 4), (3, 4), (16, 4), (1, 2)])
    def test_keep_last_covers_everything_with_equal_counts(self, n, world):
        per_rank = _ranks(
            lambda r: RandomBatchSampler(n, 4, seed=0, drop_last=False, num_replicas=world, rank=r), world
        )
        expected = -(-n // (4 * world))
        assert all(len(b) == expected for b in per_rank)
        assert all(len(batch) >= 1 for batches in per_rank for batch in batches)
        seen = [i for batches in per_rank for batch in batches for i in batch]
        assert set(seen) == set(range(n))
        if n >= world:
            assert len(seen) == n  # no repeats unless fewer samples than ranks
        else:
            assert len(seen) == world  # each starved rank repeats exactly one sample

    def test_epoch_reseeds_and_is_reproducible(self):
        s = RandomBatchSampler(50, 5, seed=3)
        first = list(s)
        assert list(s) == first
        s.set_epoch(1)
        second = list(s)
        assert second != first and sorted(sum(second, [])) == sorted(sum(first, []))
        other = RandomBatchSampler(50, 5, seed=3)
        other.set_epoch(1)
        assert list(other) == second

    def test_given_indices_are_yielded(self):
        idx = [10, 20, 30, 40, 50, 60]
        out = sum(RandomBatchSampler(idx, 2, drop_last=False), [])
        assert sorted(out) == idx

    def test_bad_arguments(self):
        with pytest.raises(ValueError):
            RandomBatchSampler(10, 0)
        with pytest.raises(ValueError, match="rank"):
            list(RandomBatchSampler(10, 2, num_replicas=2, rank=2))
        with pytest.raises(ValueError, match="no rank"):
            len(RandomBatchSampler(10, 2, num_replicas=2))


class TestPKBatchSampler:
    def test_batches_hold_p_labels_times_k(self):
        labels = np.repeat(np.arange(10), 6)
        sampler = PKBatchSampler(labels, p=4, k=3, seed=0)
        batches = list(sampler)
        assert len(batches) == len(sampler) == 60 // 12
        for batch in batches:
            counts = Counter(labels[batch].tolist())
            assert len(counts) == 4 and set(counts.values()) == {3}
            assert len(set(batch)) == 12  # enough samples: no repeats within a batch

    def test_small_labels_sampled_with_replacement(self):
        labels = np.array([0, 1, 1, 2, 2, 2, 2])
        for batch in PKBatchSampler(labels, p=3, k=4, seed=0, batches_per_epoch=5):
            by_label = Counter(labels[batch].tolist())
            assert by_label == {0: 4, 1: 4, 2: 4}
            assert batch.count(0) == 4  # the single-sample label repeats its one image

    def test_labels_and_samples_cycle_evenly(self):
        labels = np.repeat(np.arange(8), 4)
        batches = list(PKBatchSampler(labels, p=4, k=2, seed=5, batches_per_epoch=8))
        label_counts = Counter(labels[sum(batches, [])].tolist())
        assert set(label_counts.values()) == {8}  # every label equally often
        sample_counts = Counter(sum(batches, []))
        assert set(sample_counts.values()) == {2}  # every sample twice (4 per label, 8 draws per label)

    @pytest.mark.parametrize("world", [2, 3])
    def test_ranks_get_different_batches_same_count(self, world):
        labels = np.repeat(np.arange(30), 4)
        per_rank = _ranks(lambda r: PKBatchSampler(labels, 4, 2, seed=1, num_replicas=world, rank=r), world)
        assert len({len(b) for b in per_rank}) == 1 and len(per_rank[0]) == 120 // (8 * world)
        for step in zip(*per_rank, strict=True):  # one global step: no label on two ranks (30 labels >= p * world)
            step_labels = [set(labels[b].tolist()) for b in step]
            assert sum(len(s) for s in step_labels) == len(set().union(*step_labels))
        again = _ranks(lambda r: PKBatchSampler(labels, 4, 2, seed=1, num_replicas=world, rank=r), world)
        assert per_rank == again
        label_counts = Counter(labels[[i for b in per_rank for batch in b for i in batch]].tolist())
        assert max(label_counts.values()) - min(label_counts.values()) <= 2  # one sequence, evenly shared

    def test_epoch_changes_sequence(self):
        labels = np.repeat(np.arange(6), 3)
        s = PKBatchSampler(labels, 2, 3, seed=0)
        a = list(s)
        s.set_epoch(1)
        assert list(s) != a

    def test_string_labels_and_errors(self):
        labels = np.array(["b", "a", "a", "b"])
        for batch in PKBatchSampler(labels, 2, 2, batches_per_epoch=3):
            assert Counter(labels[batch].tolist()) == {"a": 2, "b": 2} and len(set(batch)) == 4
        with pytest.raises(ValueError, match="lower p"):
            PKBatchSampler([0, 0, 1], p=3, k=2)
        with pytest.raises(ValueError):
            PKBatchSampler([], p=1, k=1)


def test_world_read_from_torch_distributed(tmp_path):
    assert resolve_world(None, None) == (1, 0)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        assert resolve_world(None, None) == (1, 0)
        assert resolve_world(4, 3) == (4, 3)  # explicit values win
        assert len(RandomBatchSampler(10, 2)) == 5
    finally:
        dist.destroy_process_group()
