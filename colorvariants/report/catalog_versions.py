"""Versions of the benchmark catalog: the original, and one per background remover (``benchmark --preprocess``).

Background removal helps shallow networks trained from scratch and can hurt deep pretrained ones (Liang, Liu,
Vlassov 2023; shared/docs/background.md), so whether it helps *a given catalog* is a measurement, never a default.
``benchmark --preprocess floodfill`` prepares the catalog once per backend under ``DIR/preprocessed/<backend>/``
with ``preprocess_catalog`` (resumable: a rerun reuses the finished images), and every benchmark row gets a twin
``<row>+bg-<backend>`` trained and evaluated on the background-removed images.

The comparison is only fair on the same data: splits are fixed before preprocessing and carried by the new
manifest, and ``background_removed`` checks that the test split holds the same images (by ``source_image_path``)
and products in the same order, so the gallery's query rows mean the same images in every row.

>>> versions = [original_version(cat), background_removed(cat, "floodfill", "runs/bench")]  # doctest: +SKIP
>>> [v.row_name("cvssl") for v in versions]                                                  # doctest: +SKIP
['cvssl', 'cvssl+bg-floodfill']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorvariants.data.background import BACKGROUND_REMOVERS
from colorvariants.data.catalog import Catalog
from colorvariants.errors import ColorVariantsError
from colorvariants.report.results import ORIGINAL
from colorvariants.retrieval.store import EmbeddingSet

PREPROCESSED_DIR = "preprocessed"


@dataclass(frozen=True)
class CatalogVersion:
    """One version of the benchmark catalog and how it was made.

    Attributes:
        preprocess: ``"none"`` for the original, ``"bg-<backend>"`` for a background-removed copy; written into
            every metrics.json row as ``preprocess``.
        catalog: the whole catalog (train/val/test), with splits.
        test: its test split, row for row the same images as the original's test split.
        remove_background: the backend that made it (None for the original).
        manifest: the preprocessed manifest (None for the original).
    """

    preprocess: str
    catalog: Catalog
    test: Catalog
    remove_background: str | None = None
    manifest: Path | None = None

    @property
    def is_original(self) -> bool:
        return self.remove_background is None

    def row_name(self, base: str) -> str:
        """The benchmark row of ``base`` (a method or reference) on this version: ``cvssl+bg-floodfill``."""
        return base if self.is_original else f"{base}+{self.preprocess}"

    def row_fields(self, base: str) -> dict[str, Any]:
        """What each metrics.json row records about its data: the preprocessing and the row it pairs with."""
        return {"preprocess": self.preprocess, "base": base}

    def summary(self) -> dict[str, Any]:
        """For metrics.json's ``dataset.preprocessed``: how to find and remake this version."""
        return {"remove_background": self.remove_background, "crop": "none", "manifest": str(self.manifest),
                "images": len(self.catalog), "test_images": len(self.test)}

    def with_source_paths(self, es: EmbeddingSet) -> EmbeddingSet:
        """``es`` (embedded from this version's test split) with ``image_path`` pointing back at the original
        images, so the report's gallery and group strips resolve against one image root for every row."""
        if self.is_original:
            return es
        to_source = dict(zip(self.test.frame["image_path"], self.test.frame["source_image_path"], strict=True))
        ids = es.ids.copy()
        ids["image_path"] = [to_source.get(p, p) for p in ids["image_path"].astype(str)]
        return EmbeddingSet(es.vectors, ids, dict(es.meta))


def parse_preprocess(specs: Iterable[str]) -> tuple[str, ...]:
    """Background-remover names from ``--preprocess`` values (repeatable, each comma-separated), in order, once.

    Raises:
        ColorVariantsError: an unknown name (the message lists the backends).
    """
    names: list[str] = []
    for spec in specs:
        for name in (part.strip() for part in spec.split(",")):
            if not name or name in names:
                continue
            if name not in BACKGROUND_REMOVERS:
                raise ColorVariantsError(
                    f"--preprocess {name!r} is not a background remover. Fix: choose from "
                    f"{sorted(BACKGROUND_REMOVERS)} (floodfill and grabcut need no weights)."
                )
            names.append(name)
    return tuple(names)


def original_version(catalog: Catalog) -> CatalogVersion:
    """The catalog as given (it must already carry its splits)."""
    return CatalogVersion(ORIGINAL, catalog, catalog.split("test"))


def background_removed(catalog: Catalog, backend: str, bench_dir: str | Path, *, workers: int = 2,
                       progress: bool = True) -> CatalogVersion:
    """``catalog`` with its background removed by ``backend``, prepared once under
    ``bench_dir/preprocessed/<backend>/`` (resumed when already there).

    Raises:
        ColorVariantsError: the backend cannot run (e.g. rembg without weights), or an image fails, or the
            preprocessed test split is not the original's images in the original order.
    """
    from colorvariants.data.preprocess import preprocess_catalog

    manifest = preprocess_catalog(catalog, Path(bench_dir) / PREPROCESSED_DIR / backend,
                                  remove_background=backend, workers=workers, progress=progress)
    prepared = Catalog.load(manifest)
    version = CatalogVersion(f"bg-{backend}", prepared, prepared.split("test"), backend, manifest)
    _check_same_test_images(catalog.split("test"), version)
    return version


def _check_same_test_images(original_test: Catalog, version: CatalogVersion) -> None:
    ours, theirs = original_test.frame, version.test.frame
    same = (len(ours) == len(theirs)
            and ours["image_path"].tolist() == theirs["source_image_path"].tolist()
            and ours["product_id"].tolist() == theirs["product_id"].tolist())
    if not same:
        raise ColorVariantsError(
            f"the test split of {version.manifest} ({len(theirs)} images) is not the original's {len(ours)} "
            "images in the same order, so its rows would not compare with the original's. Fix: delete "
            f"{version.manifest.parent if version.manifest else 'the preprocessed folder'} and rerun."
        )
