"""Tests for colorvariants.metafile: one reader of versioned meta.json files, the fix as a field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from colorvariants.errors import ColorVariantsError, with_fix
from colorvariants.metafile import META_FILE, MetaFormat, read_meta


class ThingError(ColorVariantsError):
    """The error of the test kind."""


THING = MetaFormat(
    "colorvariants.thing", 2, "index", ThingError, writer="`colorvariants thing`",
    unfinished="a build stopped before its last step", other="an embedding set?",
)


def _write(folder: Path, content: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else json.dumps(content)
    (folder / META_FILE).write_text(text)
    return folder


def test_reads_a_good_file(tmp_path: Path) -> None:
    folder = _write(tmp_path / "T", {**THING.header(), "count": 3, "dim": 0, "extra": "x"})
    meta = read_meta(folder, THING, counts=("count", "dim"))
    assert meta == {"format": "colorvariants.thing", "version": 2, "count": 3, "dim": 0, "extra": "x"}


@pytest.mark.parametrize(("content", "match"), [
    (None, r"no meta\.json, so the index is unfinished \(a build stopped before its last step\) or this is "
           r"not an index folder\."),
    ("{not json", r"not valid JSON"),
    ([1, 2], r"format None is not 'colorvariants\.thing'; this is not an index folder \(an embedding set\?\)"),
    ({"format": "other"}, r"format 'other' is not"),
    ({"format": "colorvariants.thing", "version": 1}, r"index version 1; this colorvariants reads version 2\. Fix"),
    ({"format": "colorvariants.thing", "version": 99}, r"version 99.*reads version 2 \(.*newer colorvariants\)"),
    ({"format": "colorvariants.thing", "version": 2, "count": -1}, r"'count' missing or invalid \(-1\)"),
    ({"format": "colorvariants.thing", "version": 2, "count": True}, r"'count' missing or invalid"),
    ({"format": "colorvariants.thing", "version": 2}, r"'count' missing or invalid \(None\)"),
])
def test_each_failure_is_the_kinds_error_with_a_fix(tmp_path: Path, content: object, match: str) -> None:
    folder = tmp_path / "T"
    if content is None:
        folder.mkdir()
    else:
        _write(folder, content)
    with pytest.raises(ThingError, match=match) as info:
        read_meta(folder, THING, counts=("count",))
    err = info.value
    assert err.fix and "Fix:" not in err.message and str(err) == with_fix(err.message, err.fix)
    assert "colorvariants thing" in err.fix or "upgrade" in err.fix


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ThingError, match=r"no such index folder") as info:
        read_meta(tmp_path / "absent", THING)
    assert info.value.fix == "write one with `colorvariants thing`."


def test_newer_version_says_upgrade_older_says_rewrite(tmp_path: Path) -> None:
    newer = _write(tmp_path / "N", {"format": "colorvariants.thing", "version": 3})
    older = _write(tmp_path / "O", {"format": "colorvariants.thing", "version": 1})
    with pytest.raises(ThingError) as new_info:
        read_meta(newer, THING)
    with pytest.raises(ThingError) as old_info:
        read_meta(older, THING)
    assert new_info.value.fix.startswith("upgrade colorvariants")
    assert old_info.value.fix.startswith("rewrite the index")


def test_article_follows_the_noun() -> None:
    assert THING.folder == "an index folder"
    cache = MetaFormat("f", 1, "image cache", ThingError, writer="w", unfinished="u")
    assert cache.folder == "an image cache folder"
    assert MetaFormat("f", 1, "set", ThingError, writer="w", unfinished="u").folder == "a set folder"


def test_with_fix() -> None:
    assert with_fix("bad.", "") == "bad."
    assert with_fix("bad.", "do x.") == "bad. Fix: do x."
    err = ColorVariantsError("bad.", fix="do x.")
    assert (str(err), err.message, err.fix) == ("bad. Fix: do x.", "bad.", "do x.")
    assert str(ColorVariantsError("plain")) == "plain" and ColorVariantsError("plain").fix == ""
