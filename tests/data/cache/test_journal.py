"""Tests for colorvariants.data.cache.journal: the progress journal replays what was recorded, and nothing torn."""

from __future__ import annotations

from pathlib import Path

from colorvariants.data.cache.journal import ProgressJournal, build_lock
from colorvariants.data.problems import Problem


def test_append_then_replay(tmp_path: Path) -> None:
    journal = ProgressJournal(tmp_path / "progress.log")
    assert list(journal.replay(10)) == []  # no file yet
    bad = Problem("error", "truncated", "cut short", fix="re-download", row=4, file="a.jpg")
    journal.append([0, 1, 2], [])
    journal.append([5], [(3, bad)])
    assert list(journal.replay(10)) == [([0, 1, 2], []), ([5], [(3, bad)])]


def test_torn_and_foreign_lines_are_skipped(tmp_path: Path) -> None:
    journal = ProgressJournal(tmp_path / "progress.log")
    journal.append([0], [])
    journal.append([7], [])  # a row this catalog does not have
    with open(journal.path, "a", encoding="utf-8") as fh:
        fh.write('{"ok": [1, 2], "skip')  # a crash mid-append
    assert list(journal.replay(5)) == [([0], [])]
    journal.clear()
    assert not journal.path.exists() and list(journal.replay(5)) == []


def test_build_lock_is_released_on_exit(tmp_path: Path) -> None:
    with build_lock(tmp_path):
        pass
    with build_lock(tmp_path):  # released on exit: a second build can take it
        assert (tmp_path / "build.lock").exists()
