"""Validate a catalog before training: every problem with its row, its file and the fix, in one report.

``validate_catalog`` combines the manifest's structural problems (``Catalog.structural_problems``) with
checks of the data's usefulness (styles with one product, splits that leak a style) and, unless
``check_files=False``, a full decode of every image and mask (truncation only shows at the last bytes).

>>> report = validate_catalog(Catalog.load("manifest.csv", root="images/"))  # doctest: +SKIP
>>> print(report.format())  # doctest: +SKIP
>>> report.ok  # doctest: +SKIP
True
"""

from __future__ import annotations

import concurrent.futures as cf
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from colorvariants.data.catalog import BBOX_COLUMNS, ESCAPE_CODES, Catalog
from colorvariants.data.images import (
    DEFAULT_MAX_PIXELS,
    expected_extensions,
    extension_matches,
    load_mask,
    open_image,
)
from colorvariants.data.problems import Problem
from colorvariants.errors import ImageLoadError

KNOWN_SPLITS = ("train", "val", "test")
# Ids that are a missing value spelt out (``df.astype(str)`` writes NaN as "nan"): read as ids, all such rows
# would share one product or style and silently become "colour variants" of each other.
PLACEHOLDER_IDS = frozenset({"nan", "none", "null", "na", "n/a", "<na>"})
COUNT_KEYS = ("rows", "products", "styles", "images")

T = TypeVar("T")
LISTED_IDS = 5
"""How many ids a message lists before "and N more" (a shared placeholder image can list 200k products)."""


def listed(ids: Sequence[object] | np.ndarray, limit: int = LISTED_IDS) -> str:
    """The first ``limit`` of ``ids`` (sorted) as a list, then "and N more" when there are more."""
    ordered = sorted(str(i) for i in ids)
    more = f" and {len(ordered) - limit} more" if len(ordered) > limit else ""
    return f"{ordered[:limit]}{more}"


@dataclass
class ValidationReport:
    """What ``validate_catalog`` found.

    Attributes:
        problems: every finding, errors first, then by row.
        counts: per split (and ``all``): ``rows`` of the manifest, distinct ``products``, ``styles`` and
            ``images`` (distinct image paths).
        source: the manifest file, when known.
        root: the image root.
        checked_files: whether images were opened and decoded.
    """

    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    source: str | None = None
    root: str | None = None
    checked_files: bool = True

    @property
    def errors(self) -> list[Problem]:
        """Problems that make the catalog unusable as it is."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems worth fixing that do not stop training."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary with every problem."""
        return {
            "ok": self.ok,
            "source": self.source,
            "root": self.root,
            "checked_files": self.checked_files,
            "counts": self.counts,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "problems": [p.to_dict() for p in self.problems],
        }

    def format(self, max_per_code: int = 20) -> str:
        """A readable report: counts per split, then errors and warnings (``max_per_code`` of each kind)."""
        lines = [f"Manifest: {self.source or '(in memory)'}", f"Image root: {self.root}"]
        if not self.checked_files:
            lines.append("Image files: not checked (--no-files)")
        if self.counts:
            lines.append("")
            lines.append(f"{'split':<10}" + "".join(f"{k:>10}" for k in COUNT_KEYS))
            for name, c in self.counts.items():
                lines.append(f"{name:<10}" + "".join(f"{c.get(k, 0):>10}" for k in COUNT_KEYS))
        for title, items in (("Errors", self.errors), ("Warnings", self.warnings)):
            if not items:
                continue
            lines += ["", f"{title} ({len(items)}):"]
            shown: dict[str, int] = {}
            for p in items:
                shown[p.code] = shown.get(p.code, 0) + 1
                if shown[p.code] <= max_per_code:
                    lines.append(f"  {p}")
            for code, n in shown.items():
                if n > max_per_code:
                    lines.append(f"  ... and {n - max_per_code} more '{code}' (see --json for all)")
        lines.append("")
        if self.ok:
            lines.append(f"OK: no errors, {len(self.warnings)} warning(s).")
        else:
            lines.append(f"FAILED: {len(self.errors)} error(s), {len(self.warnings)} warning(s).")
        return "\n".join(lines)


def _counts(frame: pd.DataFrame, styles: np.ndarray) -> dict[str, dict[str, int]]:
    def count(mask: np.ndarray) -> dict[str, int]:
        sub = frame[mask]
        return {
            "rows": int(mask.sum()),
            "products": int(sub["product_id"].nunique()) if "product_id" in sub.columns else 0,
            "styles": int(len(set(styles[mask].tolist()))),
            "images": int(sub["image_path"].nunique()) if "image_path" in sub.columns else 0,
        }

    out: dict[str, dict[str, int]] = {}
    if "split" in frame.columns:
        for name in sorted(frame["split"].unique().tolist()):
            out[name or "(none)"] = count((frame["split"] == name).to_numpy())
    out["all"] = count(np.ones(len(frame), dtype=bool))
    return out


def _data_problems(catalog: Catalog) -> list[Problem]:
    """What makes a structurally sound catalog less useful: no styles, singleton styles, leaking splits."""
    f = catalog.frame
    src = str(catalog.source) if catalog.source else None
    problems: list[Problem] = []
    if "style_id" not in f.columns:
        problems.append(Problem(
            "warning", "no-style-column",
            "the manifest has no style_id column: colour variants are unknown, every product is its own "
            "style, so variant retrieval can be neither trained nor evaluated.",
            fix="add style_id: products that are colours of the same design share one.", file=src,
        ))
    else:
        empty = f.loc[(f["style_id"] == "") & (f["product_id"] != ""), "row"].tolist()
        for row in empty:
            problems.append(Problem(
                "warning", "empty-style-id",
                "style_id is empty: this product is treated as a style of its own.",
                fix="fill in the style_id shared with its colour variants.", row=int(row), file=src,
            ))
        styled = f[(f["style_id"] != "") & (f["product_id"] != "")]
        per_style = styled.groupby("style_id", sort=True).agg(
            products=("product_id", "nunique"), row=("row", "min"), product=("product_id", "first")
        )
        for style, rec in per_style[per_style["products"] == 1].iterrows():
            problems.append(Problem(
                "warning", "single-product-style",
                f"style {style!r} has a single product ({rec['product']!r}): cannot be evaluated: no colour "
                "variant to find.",
                fix="add its other colour variants if it has any (it still trains as a negative).",
                row=int(rec["row"]), file=src,
            ))
    for col in ("product_id", "style_id"):
        if col not in f.columns:
            continue
        ids = f[col].astype(str)
        for value in sorted(ids[ids.str.lower().isin(PLACEHOLDER_IDS)].unique().tolist()):
            rows = f.loc[ids == value, "row"]
            problems.append(Problem(
                "warning", f"placeholder-{col.replace('_', '-')}",
                f"{col} {value!r} ({len(rows)} rows) looks like a missing value written out; these rows are "
                f"read as one {col.split('_')[0]}.",
                fix=f"leave {col} empty where it is unknown, or give the real id.",
                row=int(rows.min()), file=src,
            ))
    if "split" in f.columns:
        for name in sorted(set(f["split"].unique().tolist()) - set(KNOWN_SPLITS)):
            rows = f.loc[f["split"] == name, "row"]
            problems.append(Problem(
                "warning", "unknown-split",
                f"split {name!r} ({len(rows)} rows) is not one of {list(KNOWN_SPLITS)}.",
                fix="use train, val or test (or leave split out and use --assign-splits).",
                row=int(rows.min()), file=src,
            ))
        styles = pd.Series(catalog.style_ids, index=f.index)
        n_splits = f.assign(_style=styles).groupby("_style")["split"].nunique()
        for style in n_splits[n_splits > 1].index:
            rows = f[styles == style]
            problems.append(Problem(
                "warning", "style-in-two-splits",
                f"style {style!r} has images in splits {sorted(rows['split'].unique().tolist())}: evaluation "
                "would find variants of designs seen in training.",
                fix="split by style (Catalog.assign_splits / --assign-splits), not by image.",
                row=int(rows["row"].min()), file=src,
            ))
    paths = f[f["image_path"] != ""]
    per_image = paths.groupby("image_path").agg(products=("product_id", "unique"), row=("row", "min"))
    for path, rec in per_image[per_image["products"].map(len) > 1].iterrows():
        problems.append(Problem(
            "warning", "image-in-two-products",
            f"image {path!r} is listed for {len(rec['products'])} products: {listed(rec['products'])}.",
            fix="an image shows one product: keep the row with the right product_id.",
            row=int(rec["row"]), file=src,
        ))
    if "mask_path" in f.columns and not catalog.allow_outside_root:
        for row, path in f[["row", "mask_path"]].itertuples(index=False):
            if path and "\x00" not in path and catalog.escapes_root(path):
                problems.append(catalog.escape_problem("mask_path", path, int(row)))
    if any(c in f.columns for c in BBOX_COLUMNS) and not catalog.has_bbox():
        missing = [c for c in BBOX_COLUMNS if c not in f.columns]
        problems.append(Problem(
            "warning", "incomplete-bbox-columns", f"bbox columns {missing} are missing; boxes are ignored.",
            fix="give all four of bbox_x0, bbox_y0, bbox_x1, bbox_y1, or none.", file=src,
        ))
    if catalog.has_bbox():
        for row, x0, y0, x1, y1 in f[["row", *BBOX_COLUMNS]].itertuples(index=False):
            values = (x0, y0, x1, y1)
            if all(isinstance(v, float) and math.isnan(v) for v in values):
                continue  # no box for this row: the whole image is used
            if not all(math.isfinite(float(v)) for v in values) or x1 <= x0 or y1 <= y0:
                problems.append(Problem(
                    "warning", "bad-bbox", f"bbox ({x0}, {y0}, {x1}, {y1}) is incomplete or empty.",
                    fix="give x0 < x1 and y0 < y1 in pixels (or leave all four empty); a bbox crop uses the "
                    "whole image for this row.", row=int(row), file=src,
                ))
    return problems


@dataclass(frozen=True)
class _ImageFacts:
    """What one full decode of an image file tells (or the error it raised), shared by every row naming it."""

    size: tuple[int, int] = (0, 0)
    format: str | None = None
    error: ImageLoadError | None = None


@dataclass(frozen=True)
class _MaskFacts:
    shape: tuple[int, int] = (0, 0)
    empty: bool = False
    error: ImageLoadError | None = None


def _decode_image(path: Path, max_pixels: int) -> _ImageFacts:
    try:
        loaded = open_image(path, max_pixels=max_pixels)
    except ImageLoadError as exc:
        return _ImageFacts(error=exc)
    return _ImageFacts(size=loaded.original_size, format=loaded.format)


def _results(jobs: list[cf.Future[T]], bar: tqdm) -> list[T]:
    """The jobs' results in order, ticking ``bar`` as each arrives."""
    out = []
    for job in jobs:
        out.append(job.result())
        bar.update(1)
    return out


def _decode_mask(path: Path, max_pixels: int) -> _MaskFacts:
    try:
        mask = load_mask(path, max_pixels=max_pixels)
    except ImageLoadError as exc:
        return _MaskFacts(error=exc)
    return _MaskFacts(shape=(int(mask.shape[0]), int(mask.shape[1])), empty=not mask.any())


def _image_problems(path: Path, image: _ImageFacts, *, min_side: int) -> list[Problem]:
    """What an image file's decode showed, as problems without a row (the rows naming the file get copies)."""
    if image.error is not None:
        return [Problem.from_image_error(image.error)]
    problems: list[Problem] = []
    width, height = image.size
    if not extension_matches(path, image.format):
        usual = (expected_extensions(image.format) or [""])[0]
        problems.append(Problem(
            "warning", "wrong-extension",
            f"the file is {image.format} but named {path.suffix or '(no extension)'!r}; it loads fine.",
            fix=f"rename it to {path.stem}{usual} and update image_path, so other tools open it too.",
            file=str(path),
        ))
    if min(width, height) < min_side:
        problems.append(Problem(
            "warning", "too-small",
            f"{width}x{height} is smaller than {min_side} px on a side; it will be upscaled and blurry.",
            fix="use a larger image, or lower --min-side if small images are expected.", file=str(path),
        ))
    return problems


def _mask_problems(mask_path: Path, mask: _MaskFacts, image_size: tuple[int, int]) -> list[Problem]:
    """What a mask's decode showed against its image's size, as problems without a row."""
    if mask.error is not None:
        return [Problem.from_image_error(mask.error, prefix="mask-")]
    problems: list[Problem] = []
    width, height = image_size
    if (mask.shape[1], mask.shape[0]) != (width, height):
        problems.append(Problem(
            "warning", "mask-size-mismatch",
            f"mask is {mask.shape[1]}x{mask.shape[0]} but the image is {width}x{height}; it is resized.",
            fix="export the mask at the image's size.", file=str(mask_path),
        ))
    if mask.empty:
        problems.append(Problem(
            "warning", "empty-mask", "the mask has no foreground (all 0).",
            fix="regenerate the mask (255 = garment); a mask crop uses the whole image.", file=str(mask_path),
        ))
    return problems


def _bbox_problem(row: int, path: Path, bbox: tuple[float, ...], size: tuple[int, int]) -> Problem | None:
    if not all(math.isfinite(v) for v in bbox):
        return None
    x0, y0, x1, y1 = bbox
    width, height = size
    if x0 < -1 or y0 < -1 or x1 > width + 1 or y1 > height + 1:
        return Problem(
            "warning", "bbox-outside-image",
            f"bbox ({x0:g}, {y0:g}, {x1:g}, {y1:g}) reaches outside the {width}x{height} image; it is clipped.",
            fix="give the box in pixels of the image as displayed (after EXIF rotation).", row=row, file=str(path),
        )
    return None


def _file_problems(
    catalog: Catalog, rows: Iterable[int], *, min_side: int, max_pixels: int, workers: int, progress: bool
) -> list[Problem]:
    """Decode each distinct image and mask file once (a manifest may list one file on many rows), then give
    every row the problems its files showed (copies with its row number)."""
    rows = list(rows)
    f = catalog.frame
    boxes = f[list(BBOX_COLUMNS)].to_numpy(dtype=np.float64) if catalog.has_bbox() else None
    image_col = f["image_path"].tolist()
    mask_col = f["mask_path"].tolist() if "mask_path" in f.columns else [""] * len(f)
    row_col = f["row"].tolist()
    images = {rel: catalog.root / rel for rel in dict.fromkeys(image_col[i] for i in rows)}
    masks = {rel: catalog.root / rel for rel in dict.fromkeys(mask_col[i] for i in rows) if rel}
    with cf.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="cv-validate") as pool:
        image_jobs = [pool.submit(_decode_image, p, max_pixels) for p in images.values()]
        mask_jobs = [pool.submit(_decode_mask, m, max_pixels) for m in masks.values()]
        with tqdm(total=len(image_jobs) + len(mask_jobs), desc="checking images", unit="file",
                  disable=not progress, dynamic_ncols=True) as bar:
            image_facts = dict(zip(images, _results(image_jobs, bar), strict=True))
            mask_facts = dict(zip(masks, _results(mask_jobs, bar), strict=True))
    templates: dict[tuple[str, str], list[Problem]] = {}
    problems: list[Problem] = []
    for i in rows:
        rel, mask_rel, row = image_col[i], mask_col[i], int(row_col[i])
        key = (rel, mask_rel)
        if key not in templates:
            facts_i = image_facts[rel]
            found = _image_problems(images[rel], facts_i, min_side=min_side)
            if facts_i.error is None and mask_rel:
                found += _mask_problems(masks[mask_rel], mask_facts[mask_rel], facts_i.size)
            templates[key] = found
        problems += [replace(p, row=row) for p in templates[key]]
        if boxes is not None and image_facts[rel].error is None:
            bad_box = _bbox_problem(row, images[rel], tuple(boxes[i]), image_facts[rel].size)
            if bad_box is not None:
                problems.append(bad_box)
    return problems


def _root_problem(catalog: Catalog) -> Problem | None:
    """One error for an image root that does not exist (instead of one missing file per row)."""
    if catalog.root.is_dir():
        return None
    return Problem(
        "error", "root-not-found", f"the image root {str(catalog.root)!r} does not exist, so no image can be found.",
        fix="pass --root the folder that image_path is relative to (default: the manifest's folder).",
        file=str(catalog.source) if catalog.source else None,
    )


def validate_catalog(
    catalog: Catalog,
    *,
    check_files: bool = True,
    min_side: int = 32,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    workers: int = 2,
    progress: bool = True,
) -> ValidationReport:
    """Check a catalog (built with ``check=False`` to see every problem instead of the first exception).

    Args:
        catalog: the catalog; its manifest may have any structural problem, including missing columns.
        check_files: open and fully decode every image and mask (otherwise only the manifest is checked).
        min_side: warn about images smaller than this on their shorter side.
        max_pixels: images with more pixels are reported instead of decoded (decompression-bomb guard).
        workers: decoding threads.
        progress: show a progress bar while checking files.

    Returns:
        A ``ValidationReport``; ``report.ok`` is False when any error was found.
    """
    f = catalog.frame
    src = str(catalog.source) if catalog.source else None
    report = ValidationReport(
        source=src, root=str(catalog.root), checked_files=check_files,
    )
    problems = list(catalog.structural_problems())
    if any(p.code == "missing-column" for p in problems):
        report.problems = problems
        report.counts = {"all": {"rows": len(f), "products": 0, "styles": 0, "images": 0}}
        return report
    if len(f) == 0:
        problems.append(Problem("error", "empty-manifest", "the manifest has no data rows.",
                                fix="add one row per image: image_path,product_id[,style_id,...].", file=src))
    problems += _data_problems(catalog)
    root_missing = _root_problem(catalog) if check_files and len(f) else None
    if root_missing is not None:
        problems.append(root_missing)
    elif check_files and len(f):
        unsafe = (*ESCAPE_CODES.values(), "nul-in-path")
        escaped = {p.row for p in problems if p.code in unsafe}
        openable = (f["image_path"] != "") & ~f["row"].isin(escaped)  # never open a file outside the root
        rows = np.flatnonzero(openable.to_numpy()).tolist()
        problems += _file_problems(
            catalog, rows, min_side=min_side, max_pixels=max_pixels, workers=workers, progress=progress
        )
    severity_rank = {"error": 0, "warning": 1}
    problems.sort(key=lambda p: (severity_rank.get(p.severity, 2), -1 if p.row is None else p.row, p.code))
    report.problems = problems
    report.counts = _counts(f, catalog.style_ids)
    return report


__all__ = ["ValidationReport", "validate_catalog"]
