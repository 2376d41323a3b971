"""SIGKILL during ``colorvariants index build``: a killed build never loads as an index, and the rerun writes the same
files as an uninterrupted build (bit-identical ``index.faiss`` and ``ids.parquet``)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from colorvariants.errors import IndexFileError
from colorvariants.io import temp_files_of
from colorvariants.retrieval.index import load_index

pytestmark = pytest.mark.faults
FILES = ("index.faiss", "ids.parquet", "meta.json")
TIMING_KEYS = ("build_seconds", "tune_seconds")


def _meta(directory: Path) -> dict:
    meta = json.loads((directory / "meta.json").read_text())
    for key in TIMING_KEYS:
        meta.pop(key)
    meta["fidelity"].pop("tuning", None)
    return meta


def _assert_same_as_clean(out: Path, clean: Path) -> None:
    for name in ("index.faiss", "ids.parquet"):
        assert (out / name).read_bytes() == (clean / name).read_bytes(), name
    assert _meta(out) == _meta(clean)
    assert not [t for name in FILES for t in temp_files_of(out / name)], "stale temp files must be cleaned"


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory, embedding_set_dir: Callable[..., Path],
         cli: Callable[..., subprocess.CompletedProcess]) -> dict[str, Path]:
    """Two sets of the same shape (so their flat indexes have files of the same size) and a clean build of A."""
    tmp = tmp_path_factory.mktemp("index_kill")
    a = embedding_set_dir(tmp / "a", 4000, 32, seed=0)
    b = embedding_set_dir(tmp / "b", 4000, 32, seed=1)
    cli("index", "build", "--embeddings", str(a), "--out", str(tmp / "clean"), "--kind", "flat")
    return {"tmp": tmp, "a": a, "b": b, "clean": tmp / "clean"}


@pytest.mark.parametrize(("pattern", "when"), [
    ("ids.parquet", "before"),   # both new files complete in temp files, old meta.json gone, nothing renamed
    ("ids.parquet", "after"),    # new ids.parquet in place beside the old index.faiss
    ("index.faiss", "after"),    # both data files new, meta.json not yet written
])
def test_killed_build_over_an_old_index_never_loads_and_rerun_equals_clean(
    sets: dict[str, Path], cli: Callable[..., subprocess.CompletedProcess], kill_at: Callable[..., None],
    pattern: str, when: str,
) -> None:
    out = sets["tmp"] / f"killed-{pattern}-{when}"
    # An older complete index of the same shape: after the kill its meta.json must not vouch for the new files.
    cli("index", "build", "--embeddings", str(sets["b"]), "--out", str(out), "--kind", "flat")
    args = ["index", "build", "--embeddings", str(sets["a"]), "--out", str(out), "--kind", "flat"]
    kill_at(pattern, when, args)

    with pytest.raises(IndexFileError, match="unfinished"):
        load_index(out)
    cli(*args)
    _assert_same_as_clean(out, sets["clean"])
    assert load_index(out).count == 4000


def test_kill_at_a_random_moment_of_a_large_build(
    tmp_path: Path, embedding_set_dir: Callable[..., Path], cli: Callable[..., subprocess.CompletedProcess],
    kill_cli: Callable[..., bool],
) -> None:
    """An asynchronous kill -9 from outside while the new index file is being written (a 50k x 128 flat index:
    26 MB) over an older index: the older one is left whole and loadable."""
    emb = embedding_set_dir(tmp_path / "emb", 50_000, 128, seed=2)
    args = ["index", "build", "--embeddings", str(emb), "--kind", "flat", "--out"]
    out = tmp_path / "killed"
    cli(*args[:2], "--embeddings", str(embedding_set_dir(tmp_path / "old", 1000, 128, seed=3)),
        "--kind", "flat", "--out", str(out))
    old = {name: (out / name).read_bytes() for name in FILES}
    killed = kill_cli([*args, str(out)], lambda: bool(temp_files_of(out / "index.faiss")))
    assert killed, "the build finished before its index file was being written"
    assert temp_files_of(out / "index.faiss"), "the kill landed mid-write (a temp file is left)"
    assert {name: (out / name).read_bytes() for name in FILES} == old
    assert load_index(out).count == 1000
    cli(*args, str(out))
    cli(*args, str(tmp_path / "clean"))
    _assert_same_as_clean(out, tmp_path / "clean")
