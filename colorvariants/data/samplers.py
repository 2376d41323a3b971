"""Batch samplers that shard themselves across DDP ranks: shuffled batches and P-labels-by-K-samples batches.

Each sampler yields whole batches (lists of positions) for a ``DataLoader(batch_size=None, sampler=...)``, so
the dataset can read a batch with one fancy index. Lightning must run with ``use_distributed_sampler=False``:
these samplers do the sharding. Every rank draws the same global order from ``seed + epoch`` and keeps its own
share, and every rank yields the same number of batches (a rank with one batch fewer would hang DDP's
all-reduce at the end of the epoch).

>>> sampler = RandomBatchSampler(1000, 128, seed=0)
>>> len(sampler)
7
>>> sampler.set_epoch(1)  # a new order each epoch
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler


def resolve_world(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    """(world size, rank): given values win, else ``torch.distributed`` when initialised, else (1, 0).

    Raises:
        ValueError: a rank outside ``[0, num_replicas)``, or ``num_replicas`` > 1 given without a rank and no
            process group to ask.
    """
    dist = torch.distributed
    initialised = dist.is_available() and dist.is_initialized()
    if num_replicas is None:
        num_replicas = dist.get_world_size() if initialised else 1
    if rank is None:
        if initialised:
            rank = dist.get_rank()
        elif num_replicas == 1:
            rank = 0
        else:
            raise ValueError(
                f"num_replicas={num_replicas} but no rank given and torch.distributed is not initialised"
            )
    if num_replicas < 1 or not 0 <= rank < num_replicas:
        raise ValueError(f"rank {rank} is outside [0, {num_replicas})")
    return num_replicas, rank


class RandomBatchSampler(Sampler[list[int]]):
    """Shuffled batches from one permutation per epoch, split between ranks without overlap.

    With ``drop_last=True`` each rank yields ``n // (batch_size * world)`` full batches: global step ``j``
    takes the next ``batch_size * world`` items of the permutation and rank ``r`` gets its ``r``-th slice, so
    no sample appears twice within an epoch and only the tail is dropped. With ``drop_last=False`` the
    leftovers of the last step are split evenly between the ranks (a smaller last batch); only when fewer
    leftovers than ranks remain does a rank repeat one sample, so that no rank yields an empty batch.

    Args:
        n_or_indices: the number of samples (positions ``0..n-1`` are yielded) or the indices to yield.
        batch_size: samples per batch on each rank.
        seed: the permutation of epoch ``e`` is drawn from ``seed + e``.
        drop_last: drop the incomplete last step (the default for training).
        num_replicas: world size; None reads it from ``torch.distributed`` at ``__iter__``/``__len__`` time.
        rank: this process's rank; None reads it likewise.
    """

    def __init__(
        self,
        n_or_indices: int | Sequence[int] | np.ndarray,
        batch_size: int,
        *,
        seed: int = 0,
        drop_last: bool = True,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        if isinstance(n_or_indices, (int, np.integer)):
            if n_or_indices < 0:
                raise ValueError(f"n must be >= 0, got {n_or_indices}")
            self.indices = np.arange(int(n_or_indices), dtype=np.int64)
        else:
            self.indices = np.asarray(n_or_indices, dtype=np.int64).reshape(-1)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of ``epoch`` next (call before each epoch; Lightning does)."""
        self.epoch = int(epoch)

    def _num_batches(self, world: int) -> int:
        step = self.batch_size * world
        n = len(self.indices)
        return n // step if self.drop_last else -(-n // step)

    def __len__(self) -> int:
        world, _ = resolve_world(self.num_replicas, self.rank)
        return self._num_batches(world)

    def __iter__(self) -> Iterator[list[int]]:
        world, rank = resolve_world(self.num_replicas, self.rank)
        n_batches = self._num_batches(world)
        if n_batches == 0:
            return
        perm = self.indices[np.random.default_rng(self.seed + self.epoch).permutation(len(self.indices))]
        step = self.batch_size * world
        n_full = len(perm) // step
        full = perm[: n_full * step].reshape(n_full, world, self.batch_size)
        for j in range(min(n_full, n_batches)):
            yield full[j, rank].tolist()
        if n_batches > n_full:  # drop_last=False and a partial last step
            tail = perm[n_full * step :]
            share = np.array_split(tail, world)[rank]
            if len(share) == 0:  # fewer leftovers than ranks: repeat one sample rather than yield nothing
                share = perm[rank % len(perm) : rank % len(perm) + 1]
            yield share.tolist()


class PKBatchSampler(Sampler[list[int]]):
    """Batches of ``p`` labels x ``k`` samples each, for metric learning that needs positives in every batch.

    Labels are visited in a fresh random order each epoch (every label before any repeats, and never twice
    in one batch); a label's samples are likewise cycled in random order. A label with fewer than ``k``
    samples is drawn with replacement to fill its ``k`` slots; a label with a single sample is allowed but
    yields ``k`` copies of the same image, which cannot form a positive pair of distinct images (a loss
    should mask pairs with equal ``index``; augmentation still makes the views differ).

    Global step ``j`` of an epoch holds the batches ``j * world .. j * world + world - 1`` of one sequence
    drawn from ``seed + epoch``; rank ``r`` takes the ``r``-th. While there are at least ``p * world``
    labels, one step's batches on all ranks have no label in common.

    Args:
        labels: one integer label per position (e.g. the style of each image); positions are yielded.
        p: labels per batch (at most the number of distinct labels).
        k: samples per label.
        seed: the sequence of epoch ``e`` is drawn from ``seed + e``.
        num_replicas: world size; None reads it from ``torch.distributed`` when iterating.
        rank: this process's rank; None reads it likewise.
        batches_per_epoch: batches each rank yields per epoch; default ``len(labels) // (p * k * world)``
            (at least 1), i.e. about one pass over the data across all ranks.

    Raises:
        ValueError: empty labels, ``p`` or ``k`` < 1, or ``p`` above the number of distinct labels.
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray,
        p: int,
        k: int,
        *,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
        batches_per_epoch: int | None = None,
    ) -> None:
        labels_arr = np.asarray(labels).reshape(-1)
        if len(labels_arr) == 0:
            raise ValueError("PKBatchSampler needs at least one sample")
        if p < 1 or k < 1:
            raise ValueError(f"p and k must be >= 1, got p={p}, k={k}")
        _, codes = np.unique(labels_arr, return_inverse=True)
        self.labels = codes.astype(np.int64)
        self.num_labels = int(self.labels.max()) + 1
        if p > self.num_labels:
            raise ValueError(
                f"p={p} labels per batch but only {self.num_labels} distinct labels; "
                f"lower p (pk_p) to at most {self.num_labels}"
            )
        if batches_per_epoch is not None and batches_per_epoch < 1:
            raise ValueError(f"batches_per_epoch must be >= 1, got {batches_per_epoch}")
        self.p, self.k = int(p), int(k)
        self.seed = int(seed)
        self.num_replicas = num_replicas
        self.rank = rank
        self.batches_per_epoch = batches_per_epoch
        self.epoch = 0
        self.counts = np.bincount(self.labels, minlength=self.num_labels)

    def set_epoch(self, epoch: int) -> None:
        """Use the sequence of ``epoch`` next (call before each epoch; Lightning does)."""
        self.epoch = int(epoch)

    def _num_batches(self, world: int) -> int:
        if self.batches_per_epoch is not None:
            return self.batches_per_epoch
        return max(1, len(self.labels) // (self.p * self.k * world))

    def __len__(self) -> int:
        world, _ = resolve_world(self.num_replicas, self.rank)
        return self._num_batches(world)

    def __iter__(self) -> Iterator[list[int]]:
        world, rank = resolve_world(self.num_replicas, self.rank)
        n_batches = self._num_batches(world)
        rng = np.random.default_rng(self.seed + self.epoch)
        # Each label's positions in a random order, contiguous: one vectorised sort, not a loop of shuffles.
        order = np.lexsort((rng.random(len(self.labels)), self.labels))
        starts = np.concatenate(([0], np.cumsum(self.counts)[:-1]))
        members = order.copy()  # members[starts[c]:starts[c]+counts[c]] are label c's positions
        cursor = np.zeros(self.num_labels, dtype=np.int64)
        label_queue = rng.permutation(self.num_labels)
        queue_pos = 0
        step_labels: list[np.ndarray] = []  # labels already used by the batches of the current global step

        def next_labels() -> np.ndarray:
            nonlocal label_queue, queue_pos
            taken = label_queue[queue_pos : queue_pos + self.p]
            queue_pos += len(taken)
            if len(taken) < self.p:
                # Start a new round of labels. Those of this batch go last (a batch never repeats a label),
                # before them those of this step's other batches (a step repeats none while labels suffice).
                fresh = rng.permutation(self.num_labels)
                in_batch = np.isin(fresh, taken)
                used = np.concatenate(step_labels) if step_labels else np.zeros(0, dtype=np.int64)
                in_step = np.isin(fresh, used) & ~in_batch
                fresh = np.concatenate((fresh[~in_batch & ~in_step], fresh[in_step], fresh[in_batch]))
                need = self.p - len(taken)
                taken = np.concatenate((taken, fresh[:need]))
                label_queue, queue_pos = fresh, need
            return taken

        def samples_of(c: int) -> np.ndarray:
            start, count = int(starts[c]), int(self.counts[c])
            group = members[start : start + count]
            if count < self.k:  # too few: all of them, then draws with replacement
                return np.concatenate((group, rng.choice(group, self.k - count, replace=True)))
            pos = int(cursor[c])
            out = group[pos : pos + self.k].copy()  # a copy: the slice of members may be reshuffled below
            if len(out) < self.k:  # wrap: reshuffle the rest of the cycle, skipping what was just taken
                reshuffled = rng.permutation(group)
                just_taken = np.isin(reshuffled, out)
                reshuffled = np.concatenate((reshuffled[~just_taken], reshuffled[just_taken]))
                members[start : start + count] = reshuffled
                need = self.k - len(out)
                out = np.concatenate((out, reshuffled[:need]))
                cursor[c] = need
            else:
                cursor[c] = pos + self.k
            return out

        for j in range(n_batches * world):
            if j % world == 0:
                step_labels.clear()
            labels = next_labels()
            step_labels.append(labels)
            batch = np.concatenate([samples_of(int(c)) for c in labels])
            if j % world == rank:
                yield batch.tolist()
