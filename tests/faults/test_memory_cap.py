"""Resource limits: ``evaluate`` over a gallery larger than the memory a process may allocate streams it.

The cap is ``RLIMIT_DATA`` (``ulimit -d``): heap and anonymous memory, which is what a process cannot page out;
the memory-mapped embeddings file is page cache the kernel can drop, so it does not count. Under the cap the
in-RAM path (a flat index holding a copy of every vector) dies with ``MemoryError``, while the streamed path
(``memory_budget`` below the gallery's size) computes the same numbers.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.faults
CAP = 600 * 2**20  # bytes of heap + anonymous memory the evaluating process may have
EVALUATE = (
    "import sys, json; from colorvariants.retrieval.store import EmbeddingSet; "
    "from colorvariants.retrieval.evaluate import evaluate_embeddings; "
    "budget = None if sys.argv[2] == 'none' else int(sys.argv[2]); "
    "m = evaluate_embeddings(EmbeddingSet.load(sys.argv[1]), memory_budget=budget); "
    "print(json.dumps({k: m[k] for k in ('recall@1', 'recall@10', 'map@r', 'n_queries', 'n_gallery')}))"
)
# One thread each: every OpenMP/BLAS thread reserves its own buffers, which would count against the cap.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def evaluate_capped(emb: Path, budget: int | None, cap: int | None = CAP) -> subprocess.CompletedProcess:
    def limit() -> None:
        if cap is not None:
            resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))

    return subprocess.run([sys.executable, "-c", EVALUATE, str(emb), str(budget or "none")], env=ENV,
                          capture_output=True, text=True, timeout=300, preexec_fn=limit)


def test_evaluate_streams_a_gallery_larger_than_the_memory_cap(
    tmp_path: Path, embedding_set_dir: Callable[..., Path]
) -> None:
    small = embedding_set_dir(tmp_path / "small", 2000, 1024, seed=0, styles=50)
    if evaluate_capped(small, None).returncode != 0:
        pytest.skip("this platform's libraries alone need more than the cap")
    # 100k x 1024 float32 = 410 MB of vectors: with the ~350 MB the interpreter and libraries take, beyond the cap.
    big = embedding_set_dir(tmp_path / "big", 100_000, 1024, seed=1, styles=50)
    assert 4 * 100_000 * 1024 > CAP // 2

    in_ram = evaluate_capped(big, None)
    assert in_ram.returncode != 0 and ("MemoryError" in in_ram.stderr or "bad_alloc" in in_ram.stderr)
    streamed = evaluate_capped(big, budget=64 * 2**20)
    assert streamed.returncode == 0, streamed.stderr[-2000:]
    uncapped = evaluate_capped(big, None, cap=None)
    assert json.loads(streamed.stdout) == json.loads(uncapped.stdout)
    assert json.loads(streamed.stdout)["n_gallery"] == 100_000
