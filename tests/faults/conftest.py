"""Fixtures of the fault-injection tests: the CLI SIGKILLed at an exact rename (``kill_at``)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

KILL_AT = Path(__file__).with_name("kill_at.py")


@pytest.fixture(scope="session")
def kill_at(cli: Callable[..., subprocess.CompletedProcess]) -> Callable[..., None]:
    """``kill_at(pattern, when, args, nth=1)``: run the CLI with ``args`` and SIGKILL it at the ``nth`` rename onto a
    file matching ``pattern``, ``before`` or ``after`` the rename (see ``kill_at.py``); fails unless it died there."""

    def run(pattern: str, when: str, args: Sequence[str], nth: int = 1) -> None:
        launcher = (sys.executable, str(KILL_AT), pattern, when, str(nth), "--")
        out = cli(*args, check=False, launcher=launcher)
        assert out.returncode == -signal.SIGKILL, (
            f"{args[0]} was to be killed at rename #{nth} of {pattern!r} but exited {out.returncode}:\n"
            f"{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        )

    return run


def write_embedding_set(directory: Path, n: int, d: int, seed: int, styles: int | None = None) -> Path:
    """Save a random embedding set of ``n`` x ``d`` vectors (``styles`` styles of 2 products each, the rest one
    product per style) and return its folder."""
    import numpy as np
    import pandas as pd

    from colorvariants.retrieval.store import EmbeddingSet

    rng = np.random.default_rng(seed)
    styles = n // 8 if styles is None else styles
    style = np.minimum(np.arange(n) // 4, np.arange(n))
    product = np.arange(n) // 2
    style = np.where(style < styles, style, n + product)  # beyond `styles`: a style of its own per product
    centre = rng.standard_normal((n, d)).astype(np.float32)
    vectors = centre[style % n] + 0.3 * rng.standard_normal((n, d)).astype(np.float32)
    ids = pd.DataFrame({"image_path": [f"img/{i:07d}.jpg" for i in range(n)],
                        "product_id": [f"p{p}" for p in product], "style_id": [f"s{s}" for s in style]})
    return EmbeddingSet(vectors, ids, {"method": "synthetic"}).save(directory)


@pytest.fixture(scope="session")
def embedding_set_dir() -> Callable[..., Path]:
    """``write_embedding_set(directory, n, d, seed, styles=None)``: a saved random embedding set."""
    return write_embedding_set
