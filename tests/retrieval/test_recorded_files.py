"""An output folder's data files against its meta.json: present, and of the byte size recorded there."""

from __future__ import annotations

from pathlib import Path

import pytest

from colorvariants.errors import IndexFileError
from colorvariants.metafile import MetaFormat
from colorvariants.retrieval.recorded_files import check_recorded_files

FMT = MetaFormat("test.folder", 1, "test folder", IndexFileError, writer="the test", unfinished="never written")


def test_files_of_the_recorded_size_pass(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"1234")
    (tmp_path / "b.bin").write_bytes(b"")
    check_recorded_files(tmp_path, {"files": {"a.bin": 4}}, ("a.bin", "b.bin"), FMT, "rewrite it.")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IndexFileError, match=r"a\.bin: missing") as err:
        check_recorded_files(tmp_path, {}, ("a.bin",), FMT, "rewrite it.")
    assert err.value.fix == "rewrite it."


def test_other_size(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"12")
    with pytest.raises(IndexFileError, match="2 bytes but meta.json recorded 4; the file is truncated"):
        check_recorded_files(tmp_path, {"files": {"a.bin": 4}}, ("a.bin",), FMT, "rewrite it.")
