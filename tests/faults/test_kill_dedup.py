"""SIGKILL during ``colorvariants dedup``: the groups file is the old complete one or absent, never half written, and
the rerun writes the same groups as an uninterrupted run."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from colorvariants.io import temp_files_of

pytestmark = pytest.mark.faults
Cli = Callable[..., subprocess.CompletedProcess]


def _args(emb: Path, out: Path) -> list[str]:
    return ["dedup", "--embeddings", str(emb), "--out", str(out / "groups.csv"), "--threshold", "0.8",
            "--summary", str(out / "summary.json")]


@pytest.mark.parametrize(("pattern", "when", "old"), [
    ("groups.csv", "before", False),   # groups written to a temp file, not renamed: no groups file at all
    ("groups.csv", "before", True),    # same, over an older run's groups: those stay, whole and unchanged
    ("groups.csv", "after", True),     # new groups in place, summary not yet written: no stale summary beside
])
def test_killed_dedup_leaves_whole_files_and_rerun_equals_clean(
    tmp_path: Path, embedding_set_dir: Callable[..., Path], cli: Cli, kill_at: Callable[..., None],
    pattern: str, when: str, old: bool,
) -> None:
    emb = embedding_set_dir(tmp_path / "emb", 3000, 32, seed=0)
    clean, out = tmp_path / "clean", tmp_path / "killed"
    cli(*_args(emb, clean))
    if old:  # an earlier run over other embeddings
        cli(*_args(embedding_set_dir(tmp_path / "old_emb", 2000, 32, seed=1), out))
    before = (out / "groups.csv").read_bytes() if old else None

    kill_at(pattern, when, _args(emb, out))
    if when == "before":
        if old:
            assert (out / "groups.csv").read_bytes() == before
        else:
            assert not (out / "groups.csv").exists()
        assert temp_files_of(out / "groups.csv"), "the kill landed with the new groups in a temp file"
    else:
        assert (out / "groups.csv").read_bytes() == (clean / "groups.csv").read_bytes()
        assert not (out / "summary.json").exists(), "the old summary must not describe the new groups"

    cli(*_args(emb, out))
    assert (out / "groups.csv").read_bytes() == (clean / "groups.csv").read_bytes()
    assert not temp_files_of(out / "groups.csv"), "the rerun removes the dead run's temp file"
