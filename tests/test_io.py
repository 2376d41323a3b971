"""Atomic writes: outputs get the usual file mode, and temp files of dead writers are removed by the next write."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from colorvariants import io
from colorvariants.io import remove_stale_temps, temp_files_of, write_json


def test_outputs_are_readable_like_any_file(tmp_path: Path) -> None:
    write_json(tmp_path / "m.json", {"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_temps_of_dead_processes_go_live_ones_and_other_hosts_stay(tmp_path: Path) -> None:
    dest = tmp_path / "index.faiss"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".index.faiss~{io._HOST}~{int(dead.stdout)}~abc.faiss"
    live = tmp_path / f".index.faiss~{io._HOST}~{os.getppid()}~def.faiss"
    remote = tmp_path / f".index.faiss~otherhost~{int(dead.stdout)}~ghi.faiss"
    unrelated = tmp_path / ".index.faiss.bak"
    for p in (stale, live, remote, unrelated):
        p.write_bytes(b"x")
    assert set(temp_files_of(dest)) == {stale, live, remote}
    assert remove_stale_temps(dest) == [stale]
    write_json(tmp_path / "other.json", {})  # a write of another file leaves them alone
    assert live.exists() and remote.exists() and unrelated.exists() and not stale.exists()
