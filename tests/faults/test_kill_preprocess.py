"""SIGKILL during ``colorvariants preprocess``: the rerun resumes from the journal and the prepared catalog (manifest,
images, masks) is byte-identical to an uninterrupted run's; a killed run never leaves a manifest behind."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from colorvariants.data.catalog import Catalog

pytestmark = pytest.mark.faults
Cli = Callable[..., subprocess.CompletedProcess]


def _args(manifest: Path, out: Path, workers: int) -> list[str]:
    return ["preprocess", "--manifest", str(manifest), "--out", str(out), "--crop", "mask",
            "--workers", str(workers), "--no-progress"]


def _files(out: Path) -> dict[str, bytes]:
    """Every output file by relative path, temp files included (a dot name is a temp of ``atomic_path``)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != "progress.jsonl"}


@pytest.fixture(scope="module")
def clean(tiny_manifest: Path, tmp_path_factory: pytest.TempPathFactory, cli: Cli) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("prep") / "clean"
    cli(*_args(tiny_manifest, out, workers=1))
    return _files(out)


def _journal_lines(out: Path) -> int:
    path = out / "progress.jsonl"
    return path.read_bytes().count(b"\n") if path.is_file() else 0


@pytest.mark.parametrize(("pattern", "when", "nth"), [
    ("*.png", "before", 5),   # the 5th mask fully written to its temp file, not renamed
    ("*.jpg", "after", 5),    # the 5th image in place, its journal record not yet written
])
def test_killed_at_a_rename_resumes_to_the_clean_result(
    tiny_manifest: Path, tmp_path: Path, cli: Cli, kill_at: Callable[..., None], clean: dict[str, bytes],
    pattern: str, when: str, nth: int,
) -> None:
    out = tmp_path / "killed"
    kill_at(pattern, when, _args(tiny_manifest, out, workers=1), nth=nth)
    assert not (out / "manifest.csv").exists(), "a killed run must not leave a manifest"
    assert _journal_lines(out) == 4
    done_before = {json.loads(line)["out_image"]: (out / json.loads(line)["out_image"]).stat().st_mtime_ns
                   for line in (out / "progress.jsonl").read_text().splitlines()}

    cli(*_args(tiny_manifest, out, workers=1))
    assert _files(out) == clean  # byte-identical, and no temp file left behind
    assert all((out / p).stat().st_mtime_ns == t for p, t in done_before.items()), "journaled work is not redone"
    assert len(Catalog.load(out / "manifest.csv")) == len(Catalog.load(tiny_manifest))


def test_kill_of_a_process_pool_run_mid_way(
    tiny_manifest: Path, tmp_path: Path, cli: Cli, kill_cli: Callable[..., bool], clean: dict[str, bytes]
) -> None:
    """An asynchronous kill -9 of the whole process group (parent and its two workers) after 20 images."""
    out = tmp_path / "killed"
    args = _args(tiny_manifest, out, workers=2)
    killed = kill_cli(args, lambda: _journal_lines(out) >= 20)
    assert killed, "preprocess finished before 20 images were journaled"
    assert not (out / "manifest.csv").exists()
    cli(*args)
    assert _files(out) == clean
