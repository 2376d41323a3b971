"""Every method trains under Lightning DDP: 2 CPU processes with the gloo backend.

Checks what DDP users rely on: each rank sees different samples and together they cover the epoch with no
duplicates (RandomBatchSampler) or disjoint PK batches (triplet), both ranks take the same number of steps, and
MoCo v2's memory bank is filled with keys gathered from both processes (its pointer advances by 2 x batch).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from colorvariants.data.catalog import Catalog

PROBE = Path(__file__).with_name("ddp_probe.py")
pytestmark = [pytest.mark.ddp, pytest.mark.slow]


def _run_probe(method: str, manifest: Path, out: Path) -> tuple[dict, dict]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    proc = subprocess.run([sys.executable, str(PROBE), method, str(manifest), str(out)], env=env,
                          capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0 = json.loads((out / "rank0.json").read_text())
    r1 = json.loads((out / "rank1.json").read_text())
    return r0, r1


def _expected_bank_ptr(steps: int, batch: int, size: int) -> int:
    """lightly's MemoryBankModule pointer after ``steps`` enqueues of ``batch`` keys (wraps to 0 at the end)."""
    ptr = 0
    for _ in range(steps):
        ptr = 0 if ptr + batch >= size else ptr + batch
    return ptr


@pytest.mark.parametrize("method", ["simclr", "mocov2", "cvssl", "triplet"])
def test_method_trains_under_ddp(method: str, tiny_manifest: Path, tmp_path: Path) -> None:
    r0, r1 = _run_probe(method, tiny_manifest, tmp_path)
    assert r0["world"] == r1["world"] == 2
    assert r0["steps"] == r1["steps"] > 0, "ranks must take the same number of steps"
    assert (tmp_path / "run" / "model.pt").is_file()
    train_rows = set(Catalog.load(tiny_manifest).frame.index[Catalog.load(tiny_manifest).frame["split"] == "train"])
    for epoch in r0["seen"]:
        a, b = r0["seen"][epoch], r1["seen"][epoch]
        if method == "triplet":
            # PK batches: each rank draws its own styles; the two ranks' batches are not copies of each other.
            assert a != b
            continue
        assert not set(a) & set(b), "a sample was given to both ranks in one epoch"
        assert len(a) == len(set(a)) and len(b) == len(set(b)), "a sample repeated within a rank's epoch"
        covered = set(a) | set(b)
        assert covered <= train_rows
        assert len(train_rows) - len(covered) < 2 * 8, "more samples lost than drop_last can drop"
    if method == "mocov2":
        size = r0["bank_size"][0]
        assert size == 64
        gathered = _expected_bank_ptr(r0["steps"], 2 * 8, size)
        local = _expected_bank_ptr(r0["steps"], 8, size)
        assert gathered != local, "test needs steps where gathering and not gathering differ"
        assert r0["bank_ptr"] == r1["bank_ptr"] == gathered
