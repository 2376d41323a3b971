"""``StageTimer``: the wall-clock seconds of a run's named stages, recorded by a ``with`` block per stage.

>>> timer = StageTimer()
>>> with timer.stage("knn_s"):
...     pass
>>> sorted(timer.finish().keys())
['knn_s', 'total_s']
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class StageTimer:
    """Seconds per named stage, in the order the stages end; ``finish`` adds the total since creation.

    Stages may nest (an outer stage's seconds include its inner ones). A stage left by an exception records
    nothing: the run it belongs to failed.
    """

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Record the seconds the ``with`` block takes under ``name``."""
        start = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - start

    def finish(self, name: str = "total_s", digits: int = 3) -> dict[str, float]:
        """Every stage and ``name`` (seconds since the timer was made), rounded to ``digits``."""
        self.seconds[name] = time.perf_counter() - self._start
        return {k: round(v, digits) for k, v in self.seconds.items()}
