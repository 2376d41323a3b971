"""CPU threads for the batched views: a fixed count, torch's setting, or ``"auto"`` (timed, the default).

Why timed: the views are memory-bound elementwise passes. On an idle 2-core Xeon a second thread made CV-SSL's
views of 32 images 2.2x faster (44 -> 20 ms); on oversubscribed cores every OpenMP parallel region waits for a
descheduled thread, and 2 threads made SimCLR's views 13x slower (BENCHMARKS.md "Augmentations"). No fixed
count is right on both, so ``ThreadTuner`` times 1 thread against torch's count on the real batches and keeps
the faster, checking again every few hundred batches as the load changes.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator

import torch

from colorvariants.data.augment._common import AugmentationError, limit_cpu_threads

AUTO = "auto"
CpuThreads = int | str | None  # a count >= 1, "auto", or None (torch's setting)


def check_cpu_threads(threads: CpuThreads) -> None:
    """Raise ``AugmentationError`` unless ``threads`` is a count >= 1, ``"auto"`` or None."""
    if threads is None or threads == AUTO:
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise AugmentationError(f"cpu_threads must be >= 1, 'auto' or None (torch's setting), got {threads!r}.")


class ThreadTuner:
    """Chooses between 1 thread and torch's count for a block that runs once per batch, by timing both.

    The first ``trials`` calls per candidate alternate between them; then the candidate with the lower median
    runs for ``recheck`` calls, and the timing starts over. Results do not depend on the choice beyond float
    rounding of reductions: every random draw comes from the generator, not from the threads.
    """

    def __init__(self, trials: int = 3, recheck: int = 300) -> None:
        self.trials = trials
        self.recheck = recheck
        self._seconds: dict[int, list[float]] = {}
        self._chosen: int | None = None
        self._left = 0

    @property
    def chosen(self) -> int | None:
        """The thread count in use after timing (None while still timing)."""
        return self._chosen

    def _candidates(self) -> list[int]:
        return sorted({1, torch.get_num_threads()})

    def _next(self) -> int:
        candidates = self._candidates()
        if self._chosen is not None and self._chosen in candidates and self._left > 0:
            self._left -= 1
            return self._chosen
        self._chosen = None
        pending = [n for n in candidates if len(self._seconds.get(n, [])) < self.trials]
        if not pending:
            self._chosen = min(candidates, key=lambda n: statistics.median(self._seconds[n]))
            self._left = self.recheck - 1
            self._seconds = {}
            return self._chosen
        return min(pending, key=lambda n: len(self._seconds.get(n, [])))

    @contextlib.contextmanager
    def __call__(self, device: torch.device) -> Iterator[None]:
        if device.type != "cpu":
            yield
            return
        threads = self._next()
        timing = self._chosen is None
        start = time.perf_counter()
        with limit_cpu_threads(threads, device):
            yield
        if timing:
            self._seconds.setdefault(threads, []).append(time.perf_counter() - start)


class ViewThreads:
    """The thread policy of one view recipe: ``ViewThreads(config.cpu_threads)(device)`` wraps a views call."""

    def __init__(self, threads: CpuThreads) -> None:
        check_cpu_threads(threads)
        self.threads = threads
        self.tuner = ThreadTuner() if threads == AUTO else None

    def __call__(self, device: torch.device) -> contextlib.AbstractContextManager[None]:
        if self.tuner is not None:
            return self.tuner(device)
        return limit_cpu_threads(self.threads if isinstance(self.threads, int) else None, device)
