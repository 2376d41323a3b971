"""A full disk: every command stops with one line naming the file and the fix, and what was on disk stays whole.

Without root there is no tmpfs to fill, so the disk "fills" two ways: a file-size limit (``ulimit -f``, i.e.
``RLIMIT_FSIZE`` with ``SIGXFSZ`` ignored, so a write past it fails with ``EFBIG`` as on a full disk) on a CLI
subprocess, and ``ENOSPC`` raised by a patched ``fsync``/``posix_fallocate`` in-process.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from colorvariants import io
from colorvariants.io import DiskFullError, temp_files_of, write_json
from colorvariants.retrieval.index import load_index
from colorvariants.retrieval.store import EmbeddingSet, EmbeddingWriter

pytestmark = pytest.mark.faults
Cli = Callable[..., subprocess.CompletedProcess]


def file_size_limit(limit: int) -> Callable[[], None]:
    """A ``preexec_fn``: files of the child cannot grow past ``limit`` bytes (writes fail with EFBIG)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _no_temps(folder: Path) -> bool:
    return not [p for p in folder.rglob(".*") if "~" in p.name]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _assert_clear(out: subprocess.CompletedProcess, *files: str) -> None:
    """One ``error:`` line, no traceback, naming one of ``files``, saying the disk is full and the fix."""
    assert out.returncode == 2, out.stderr[-2000:]
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert any(f in line for f in files) and "no space left" in line and "Fix: free disk space" in line, line


def test_index_build_on_a_full_disk_keeps_the_old_index(
    tmp_path: Path, embedding_set_dir: Callable[..., Path], cli: Cli
) -> None:
    out = tmp_path / "index"
    cli("index", "build", "--embeddings", str(embedding_set_dir(tmp_path / "old", 1000, 32, 1)), "--kind", "flat",
        "--out", str(out))
    before = _snapshot(out)
    big = embedding_set_dir(tmp_path / "big", 20_000, 32, 2)  # a 2.6 MB index.faiss
    failed = cli("index", "build", "--embeddings", str(big), "--kind", "flat", "--out", str(out), check=False,
                 preexec_fn=file_size_limit(1_000_000))
    _assert_clear(failed, "index.faiss")
    assert _snapshot(out) == before and _no_temps(out)
    assert load_index(out).count == 1000


def test_embedding_save_on_a_full_disk_keeps_the_old_set(
    tmp_path: Path, embedding_set_dir: Callable[..., Path], cli: Cli
) -> None:
    """``index build`` is not the only writer: a set re-saved over an old one (here by a tiny script)."""
    out = embedding_set_dir(tmp_path / "emb", 1000, 32, 1)
    before = _snapshot(out)
    big = embedding_set_dir(tmp_path / "big", 20_000, 32, 2)
    script = ("import sys; from colorvariants.retrieval.store import EmbeddingSet; "
              "EmbeddingSet.load(sys.argv[1]).save(sys.argv[2])")
    failed = subprocess.run([sys.executable, "-c", script, str(big), str(out)], capture_output=True, text=True,
                            preexec_fn=file_size_limit(1_000_000), timeout=120)
    assert failed.returncode != 0 and "DiskFullError" in failed.stderr and "embeddings.npy" in failed.stderr
    assert _snapshot(out) == before and _no_temps(out)
    assert EmbeddingSet.load(out).count == 1000


def test_dedup_on_a_full_disk_keeps_the_old_groups(
    tmp_path: Path, embedding_set_dir: Callable[..., Path], cli: Cli
) -> None:
    emb = embedding_set_dir(tmp_path / "emb", 4000, 32, 1)
    groups = tmp_path / "groups.csv"
    groups.write_text("old groups\n")
    failed = cli("dedup", "--embeddings", str(emb), "--out", str(groups), "--threshold", "0.8", check=False,
                 preexec_fn=file_size_limit(50_000))
    _assert_clear(failed, "groups.csv")
    assert groups.read_text() == "old groups\n" and _no_temps(tmp_path)


def test_preprocess_on_a_full_disk_stops_even_when_skipping_bad_images_and_resumes(
    tiny_manifest: Path, tmp_path: Path, cli: Cli
) -> None:
    args = ["preprocess", "--manifest", str(tiny_manifest), "--out", str(tmp_path / "out"), "--crop", "mask",
            "--workers", "1", "--no-progress", "--on-error", "skip"]
    failed = cli(*args, check=False, preexec_fn=file_size_limit(1500))  # most images are larger than this
    _assert_clear(failed, ".jpg", ".png", "progress.jsonl")
    assert not (tmp_path / "out" / "manifest.csv").exists() and not (tmp_path / "out" / "skipped.csv").exists()
    assert _no_temps(tmp_path / "out")
    cli(*args)  # space is back: the same command finishes the job
    assert len(pd.read_csv(tmp_path / "out" / "manifest.csv")) == len(pd.read_csv(tiny_manifest))


def test_enospc_at_fsync_leaves_the_old_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Some file systems (NFS, delayed allocation) report ENOSPC only when the data is flushed."""
    dest = tmp_path / "metrics.json"
    write_json(dest, {"recall@1": 0.5})

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(io.os, "fsync", full)
    with pytest.raises(DiskFullError, match=r"metrics\.json: no space left .* Fix: free disk space"):
        write_json(dest, {"recall@1": 0.9})
    assert json.loads(dest.read_text()) == {"recall@1": 0.5} and not temp_files_of(dest)


def test_a_memory_mapped_output_reserves_its_space_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the reservation a full disk surfaces as SIGBUS on a page write, which kills the process."""
    old = EmbeddingSet(np.eye(4, dtype=np.float32), pd.DataFrame({"image_path": list("abcd"), "product_id": list("abcd")}))
    old.save(tmp_path / "emb")
    before = _snapshot(tmp_path / "emb")

    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(io.os, "posix_fallocate", full)
    ids = pd.DataFrame({"image_path": [f"{i}" for i in range(100)], "product_id": [f"{i}" for i in range(100)]})
    with pytest.raises(DiskFullError, match=r"\.embeddings\.npy\.partial~[^/]*\.npy: no space left"):
        EmbeddingWriter(tmp_path / "emb", count=100, dim=8, ids=ids)
    assert _snapshot(tmp_path / "emb") == before and not list((tmp_path / "emb").glob(".embeddings.npy.partial*"))
