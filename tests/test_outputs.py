"""Output folders: one kind per folder, one writer at a time (locks of dead processes taken over), and
producer records compared key by key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from colorvariants.io import process_temp_path
from colorvariants.outputs import (
    KIND_FILE,
    LOCK_FILE,
    OutputInUseError,
    OutputKindError,
    claim,
    claim_file,
    found_kind,
    producer_mismatch,
)

HOLD = """
import sys, time
from colorvariants.outputs import claim
with claim(sys.argv[1], "index"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_folder_keeps_its_kind(tmp_path: Path) -> None:
    with claim(tmp_path / "emb", "embeddings"):
        pass
    assert found_kind(tmp_path / "emb") == "embeddings"
    with pytest.raises(OutputKindError, match=r"holds an embedding set .* not an index; .*Fix: pass a new folder"):
        with claim(tmp_path / "emb", "index"):
            pass
    with claim(tmp_path / "emb", "embeddings"):  # the same kind again: fine (a rerun, a resume)
        pass


def test_folders_written_before_kind_markers_are_recognised(tmp_path: Path) -> None:
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "meta.json").write_text(json.dumps({"format": "colorvariants.index"}))
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "config.yaml").write_text("method: cvssl\n")
    with pytest.raises(OutputKindError, match="holds an index"):
        with claim(tmp_path / "index", "embeddings"):
            pass
    with pytest.raises(OutputKindError, match="holds a fit run"):
        with claim(tmp_path / "run", "preprocess"):
            pass
    assert not (tmp_path / "index" / KIND_FILE).exists()


def test_a_second_writer_is_told_the_pid_of_the_first(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "idx")], env=env,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputInUseError, match=rf"in use by PID {holder.pid} .*wait .*or write elsewhere"):
            with claim(tmp_path / "idx", "index"):
                pass
    finally:
        holder.kill()
        holder.wait()
    with claim(tmp_path / "idx", "index"):  # the holder died: its lock is taken over
        assert (tmp_path / "idx" / LOCK_FILE).read_text().split()[0] == str(os.getpid())


def test_a_lock_file_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / LOCK_FILE).write_text(f"{dead.pid} somehost\n")
    with claim(tmp_path / "out", "preprocess"):
        pass


def test_an_output_file_has_its_own_lock(tmp_path: Path) -> None:
    with claim_file(tmp_path / "groups.csv"):
        with pytest.raises(OutputInUseError, match="groups.csv: in use by PID"):
            with claim_file(tmp_path / "groups.csv"):
                pass
    with pytest.raises(OutputKindError, match="is a folder"):
        with claim_file(tmp_path):
            pass


def test_temp_names_differ_per_process(tmp_path: Path) -> None:
    mine = process_temp_path(tmp_path / "embeddings.npy.partial", suffix=".npy")
    assert f"~{os.getpid()}~" in mine.name and mine != process_temp_path(tmp_path / "embeddings.npy.partial")
    stale = tmp_path / mine.name.replace(f"~{os.getpid()}~", "~999999999~")
    stale.write_bytes(b"x")
    process_temp_path(tmp_path / "embeddings.npy.partial")
    assert not stale.exists()  # a dead process's temp is removed


def test_producer_mismatch_names_each_difference() -> None:
    old = {"model": "sha256:aa", "image_size": 32, "crop": "none"}
    assert producer_mismatch(old, dict(old)) == []
    assert producer_mismatch(old, {**old, "image_size": 48}) == ["image_size: 32 -> 48"]
    assert "no record" in producer_mismatch(None, old)[0]


def test_without_flock_a_live_pid_of_this_host_holds_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    import errno
    import fcntl
    import socket

    def no_flock(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "no locks available")  # as on a network mount without lock support

    monkeypatch.setattr(fcntl, "flock", no_flock)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / LOCK_FILE).write_text(f"{os.getppid()} {socket.gethostname()}\n")  # alive: our parent
    with pytest.raises(OutputInUseError, match=rf"in use by PID {os.getppid()}"):
        with claim(tmp_path / "out", "index"):
            pass
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "out" / LOCK_FILE).write_text(f"{dead.pid} {socket.gethostname()}\n")
    with claim(tmp_path / "out", "index"):
        assert (tmp_path / "out" / LOCK_FILE).read_text().split()[0] == str(os.getpid())
