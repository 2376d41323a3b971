"""Importers: turn a public dataset's own annotation files into a colorvariants manifest.

Each importer registers itself in ``IMPORTERS`` with ``@register_importer(name, help)``; it is a function
``(root, out) -> ImportResult`` that reads the dataset under ``root`` and writes a manifest to ``out``. The CLI
(``colorvariants import <name> --root R --out manifest.csv``) lists whatever is registered.

>>> result = IMPORTERS["deepfashion-inshop"].run(Path("In-shop"), Path("inshop.csv"))  # doctest: +SKIP
>>> Catalog.load(result.manifest, root=result.image_root)                              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote: the manifest, the image root its ``image_path`` values are relative to, counts.

    Attributes:
        manifest: the manifest file written.
        image_root: pass it as ``--root`` to later commands.
        rows: images listed.
        splits: images per value of the ``split`` column.
        missing_images: listed images not found under ``image_root`` (an unextracted archive, a wrong root).
        notes: anything the user should know (e.g. which optional annotation file was absent).
    """

    manifest: Path
    image_root: Path
    rows: int
    splits: dict[str, int]
    missing_images: int = 0
    notes: list[str] = field(default_factory=list)


ImportFunction = Callable[[Path, Path], ImportResult]


@dataclass(frozen=True)
class Importer:
    """One registered dataset importer."""

    name: str
    help: str
    run: ImportFunction


IMPORTERS: dict[str, Importer] = {}


def register_importer(name: str, help: str) -> Callable[[ImportFunction], ImportFunction]:
    """Function decorator adding a dataset importer to ``IMPORTERS`` under ``name``."""

    def decorator(fn: ImportFunction) -> ImportFunction:
        if name in IMPORTERS:
            raise ValueError(f"importer {name!r} registered twice")
        IMPORTERS[name] = Importer(name, help, fn)
        return fn

    return decorator


# Importing the modules fills the registry (they import the names above, hence the position).
from colorvariants.data.importers import deepfashion_inshop  # noqa: E402,F401

__all__ = ["IMPORTERS", "ImportResult", "Importer", "register_importer"]
