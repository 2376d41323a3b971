"""The one reader of versioned ``meta.json`` files: missing folder or file, bad JSON, other format, other version.

Every finished output folder (embedding set, index, image cache) ends with a ``meta.json`` written atomically and
last, holding at least ``{"format": ..., "version": ...}``: a folder without one is unfinished. ``MetaFormat``
says what one kind of folder's ``meta.json`` must hold and how to talk about it; ``read_meta`` checks a folder
against it and raises the kind's own error (an ``IndexFileError`` for an index ...) with the fix as a structured
field (``error.fix``, see ``colorvariants.errors``).

>>> INDEX = MetaFormat("colorvariants.index", 1, "index", IndexFileError,
...                    writer="`colorvariants index build`", unfinished="a build stopped before its last step",
...                    other="an embedding set?")  # doctest: +SKIP
>>> meta = read_meta(Path("runs/x/index"), INDEX, counts=("dim", "count"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorvariants.errors import ColorVariantsError

META_FILE = "meta.json"


@dataclass(frozen=True)
class MetaFormat:
    """What one kind of folder's ``meta.json`` says, and the words its errors use.

    Attributes:
        format: the ``"format"`` value, e.g. ``"colorvariants.index"``.
        version: the one ``"version"`` this colorvariants reads (and writes).
        noun: what the folder holds, in the user's words: ``"index"``, ``"embedding set"``.
        error: the error raised for this kind (a ``ColorVariantsError`` subclass taking ``fix=``).
        writer: what writes such a folder, e.g. ``"`colorvariants index build`"``; used in the fixes.
        unfinished: why a folder may lack its ``meta.json``, e.g. ``"a build stopped before its last step"``.
        other: a guess at what a folder of another format is, e.g. ``"an embedding set?"`` (may be empty).
    """

    format: str
    version: int
    noun: str
    error: type[ColorVariantsError]
    writer: str
    unfinished: str
    other: str = ""

    def header(self) -> dict[str, Any]:
        """The ``format`` and ``version`` entries a writer puts first in its ``meta.json``."""
        return {"format": self.format, "version": self.version}

    @property
    def folder(self) -> str:
        """``"an index folder"``, ``"an embedding set folder"``: the noun with its article."""
        article = "an" if self.noun[:1].lower() in "aeiou" else "a"
        return f"{article} {self.noun} folder"

    def fail(self, message: str, fix: str) -> ColorVariantsError:
        """This kind's error with ``message`` and the structured ``fix``."""
        return self.error(message, fix=fix)


def read_meta(directory: str | Path, fmt: MetaFormat, *, counts: Sequence[str] = ()) -> dict[str, Any]:
    """Read and check ``directory/meta.json`` against ``fmt``; return its content.

    Args:
        directory: the output folder.
        fmt: what its ``meta.json`` must say.
        counts: keys that must hold non-negative integers (``"count"``, ``"dim"``).

    Raises:
        ColorVariantsError: of type ``fmt.error``: no such folder; no ``meta.json`` (unfinished, or not such
            a folder); not valid JSON; another format; another version (older, or newer than this
            colorvariants reads); a ``counts`` key missing or invalid; an unreadable file. Its ``fix`` says
            what to do.
    """
    directory = Path(directory)
    path = directory / META_FILE
    remake = f"run {fmt.writer} again to finish or rewrite it."
    if not directory.is_dir():
        raise fmt.fail(f"{directory}: no such {fmt.noun} folder.", f"write one with {fmt.writer}.")
    if not path.is_file():
        raise fmt.fail(
            f"{directory}: no meta.json, so the {fmt.noun} is unfinished ({fmt.unfinished}) or this is not "
            f"{fmt.folder}.",
            remake,
        )
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise fmt.fail(f"{path}: cannot be read ({exc}).", "check the file's permissions.") from exc
    try:
        meta = json.loads(text)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise fmt.fail(f"{path}: not valid JSON ({exc}).", remake) from exc
    found = meta.get("format") if isinstance(meta, dict) else None
    if found != fmt.format:
        guess = f" ({fmt.other})" if fmt.other else ""
        raise fmt.fail(
            f"{path}: format {found!r} is not {fmt.format!r}; this is not {fmt.folder}{guess}.",
            f"pass a folder written by {fmt.writer}.",
        )
    version = meta.get("version")
    if version != fmt.version:
        newer = isinstance(version, int) and version > fmt.version
        raise fmt.fail(
            f"{path}: {fmt.noun} version {version!r}; this colorvariants reads version {fmt.version}"
            + (" (it was written by a newer colorvariants)." if newer else "."),
            (f"upgrade colorvariants, or rewrite the {fmt.noun} with {fmt.writer} of this version."
             if newer else f"rewrite the {fmt.noun} with {fmt.writer} of this version, or use the colorvariants "
             "version that wrote it."),
        )
    for key in counts:
        value = meta.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise fmt.fail(f"{path}: {key!r} missing or invalid ({value!r}).", remake)
    return meta
