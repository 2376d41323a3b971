"""The data files of an output folder checked against its ``meta.json``: each present, of the recorded byte size.

Writers record ``{"files": {name: bytes}}`` in ``meta.json`` (written last), so a reader catches a file that was
truncated, replaced, or left over from another write before using it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from colorvariants.metafile import MetaFormat


def check_recorded_files(
    directory: Path, meta: dict[str, Any], names: Iterable[str], fmt: MetaFormat, fix: str
) -> None:
    """Raise ``fmt``'s error (with ``fix``) for the first of ``names`` that is missing or not of its recorded size.

    A file ``meta.json`` records no size for only has to exist.
    """
    recorded = meta.get("files", {})
    for name in names:
        path = directory / name
        if not path.is_file():
            raise fmt.fail(f"{path}: missing although meta.json exists.", fix)
        want = recorded.get(name)
        if want is not None and path.stat().st_size != want:
            raise fmt.fail(
                f"{path}: {path.stat().st_size} bytes but meta.json recorded {want}; the file is truncated or "
                "belongs to another write.",
                fix,
            )
