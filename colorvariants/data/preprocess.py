"""Preprocess a catalog once: crop to the product, optionally remove the background, and cache the masks.

Real catalogs show the garment on a model, with margins, on backdrops of many kinds. ``preprocess_catalog`` turns
one into a new image root plus manifest, so every later stage (cache, training, embedding) reads the prepared
pixels and never redoes this work:

- ``crop="bbox"`` crops to the manifest's ``bbox_*`` box, ``crop="mask"`` to the foreground mask's box (the
  manifest's ``mask_path`` when a row has one, else a mask from the chosen or the offline backend), each grown
  by ``margin`` (the crop margin rule of ``colorvariants.data.boxes``); ``"none"`` keeps the frame.
- ``remove_background="floodfill"|"grabcut"|"rembg"`` paints everything outside the mask ``background_fill``.
- Every mask it used is written, aligned with the output image, under ``out_dir/masks/`` and named in the new
  manifest's ``mask_path``, so removal runs once per image and the garment-recolour augmentation can reuse it.

Resumable: each image and mask is written atomically (temp file + rename) and then recorded in
``out_dir/progress.jsonl``; a rerun skips what is recorded and present, and the manifest is written last,
atomically. Rerunning into the same folder with different settings is refused rather than mixing two runs.

>>> out = preprocess_catalog(Catalog.load("m.csv"), "prep/", crop="bbox")  # doctest: +SKIP
>>> Catalog.load(out)                                                        # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from colorvariants.data.background import OFFLINE_DEFAULT, BackgroundRemover, create_remover
from colorvariants.data.background.masks import read_mask, write_mask
from colorvariants.data.boxes import CROP_MARGIN, Box, clip_box, grow_box, mask_bbox
from colorvariants.data.catalog import BBOX_COLUMNS, Catalog
from colorvariants.data.choices import (
    IMAGE_FORMAT_NAMES,
    ON_ERROR_POLICIES,
    CropMode,
    ImageFormatName,
    OnError,
    SavedFormat,
)
from colorvariants.data.images import load_rgb
from colorvariants.data.problems import Problem
from colorvariants.errors import ColorVariantsError, ImageLoadError, ManifestError
from colorvariants.io import DiskFullError, atomic_path, disk_full_as_error, write_json

FORMAT = "colorvariants.preprocess"
VERSION = 1
MANIFEST_NAME = "manifest.csv"
JOURNAL_NAME = "progress.jsonl"
SETTINGS_NAME = "preprocess.json"
SKIPPED_NAME = "skipped.csv"


@dataclass(frozen=True)
class ImageFormat:
    """How output images are saved: file suffix and PIL ``save`` options."""

    suffix: str
    save_options: dict[str, Any]


IMAGE_FORMATS: dict[SavedFormat, ImageFormat] = {
    # JPEG at 95 with full chroma: re-encoding a catalog JPEG then costs no visible detail; PNG is lossless.
    "jpg": ImageFormat(".jpg", {"format": "JPEG", "quality": 95, "subsampling": 0}),
    "png": ImageFormat(".png", {"format": "PNG", "compress_level": 3}),
}
SOURCE_FORMAT: dict[str, SavedFormat] = {".jpg": "jpg", ".jpeg": "jpg"}
"""``image_format="auto"``: JPEG sources stay JPEG (a 52k-image catalog as PNG is five times the disk), the rest
become PNG."""


@dataclass(frozen=True)
class PreprocessConfig:
    """What ``preprocess_catalog`` does to every image; saved as ``out_dir/preprocess.json``.

    Attributes:
        crop: ``"none"``, ``"bbox"`` (the manifest's box) or ``"mask"`` (the foreground mask's box).
        remove_background: a key of ``BACKGROUND_REMOVERS`` to paint the background ``background_fill``, or None.
        background_fill: RGB colour of removed background (white: the catalog convention).
        margin: the crop box grows by this share of its width (height) on the left and right (top and bottom):
            the crop margin rule of ``colorvariants.data.boxes``.
        image_format: ``"auto"`` (JPEG stays JPEG, others PNG), ``"jpg"`` or ``"png"``.
        remover_options: config fields of the backend (e.g. ``{"model": "u2net"}`` for rembg).
    """

    crop: CropMode = "none"
    remove_background: str | None = None
    background_fill: tuple[int, int, int] = (255, 255, 255)
    margin: float = CROP_MARGIN
    image_format: ImageFormatName = "auto"
    remover_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "background_fill", tuple(int(c) for c in self.background_fill))
        if self.crop not in CROP_BOXES:
            raise ColorVariantsError(f"unknown crop {self.crop!r}. Fix: choose one of {sorted(CROP_BOXES)}.")
        if self.image_format not in IMAGE_FORMAT_NAMES:
            raise ColorVariantsError(
                f"unknown image format {self.image_format!r}. Fix: choose auto or one of {sorted(IMAGE_FORMATS)}."
            )
        if len(self.background_fill) != 3 or not all(0 <= c <= 255 for c in self.background_fill):
            raise ColorVariantsError(
                f"background_fill {self.background_fill} is not an RGB colour. Fix: give three values in 0..255."
            )
        if not 0.0 <= self.margin <= 1.0:
            raise ColorVariantsError(f"margin {self.margin} is outside 0..1. Fix: e.g. 0.05 (5% on each side).")

    @property
    def mask_backend(self) -> str:
        """The backend that computes a mask a row does not bring: the chosen one, else the offline default."""
        return self.remove_background or OFFLINE_DEFAULT

    def build_remover(self) -> BackgroundRemover:
        """The mask backend, configured with ``remover_options`` when it is the one the user chose."""
        return create_remover(self.mask_backend, **(self.remover_options if self.remove_background else {}))

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["background_fill"] = list(self.background_fill)
        return out


@dataclass(frozen=True)
class _Job:
    """One image to prepare (picklable: it travels to worker processes)."""

    index: int
    row: int
    source: str
    source_mask: str | None
    bbox: tuple[float, float, float, float] | None
    out_image: str
    out_mask: str | None


@dataclass(frozen=True)
class _Done:
    """What a finished job adds to the manifest; one line of the progress journal."""

    out_image: str
    out_mask: str | None
    bbox: tuple[int, int, int, int] | None
    width: int
    height: int


# -- crop boxes: one function per crop mode -------------------------------------------------------------------
def _box_none(job: _Job, size: tuple[int, int], mask: np.ndarray | None) -> Box:
    return 0, 0, size[0], size[1]


def _box_bbox(job: _Job, size: tuple[int, int], mask: np.ndarray | None) -> Box:
    if job.bbox is None:
        raise ManifestError(
            "crop='bbox' but this row has no bbox_x0..bbox_y1.", row=job.row,
            fix="fill in the box, use --crop mask, or --on-error skip to leave the row out.",
        )
    box = clip_box(job.bbox, size)
    if box is None:
        raise ManifestError(
            f"bbox {tuple(job.bbox)} lies outside the {size[0]}x{size[1]} image or is empty.", row=job.row,
            fix="boxes are x0, y0, x1, y1 in pixels of the (EXIF-rotated) image with x0 < x1 and y0 < y1.",
        )
    return box


def _box_mask(job: _Job, size: tuple[int, int], mask: np.ndarray | None) -> Box:
    box = mask_bbox(mask) if mask is not None else None
    return box if box is not None else (0, 0, size[0], size[1])  # an empty mask: keep the frame, never crop to 0


CROP_BOXES: dict[CropMode, Callable[[_Job, tuple[int, int], np.ndarray | None], Box]] = {
    "none": _box_none,
    "bbox": _box_bbox,
    "mask": _box_mask,
}


# -- the per-image work ---------------------------------------------------------------------------------------
class _Worker:
    """Prepares jobs; builds its background remover on first need (one per process: sessions are not shared)."""

    def __init__(self, config: PreprocessConfig, out_dir: Path, remover: BackgroundRemover | None = None):
        self.config = config
        self.out_dir = out_dir
        self._remover = remover

    @property
    def remover(self) -> BackgroundRemover:
        if self._remover is None:
            self._remover = self.config.build_remover()
        return self._remover

    def run(self, job: _Job) -> _Done:
        cfg = self.config
        image = load_rgb(job.source, row=job.row)
        size = image.size
        mask: np.ndarray | None = None
        if cfg.remove_background is None and job.source_mask is not None:
            mask = read_mask(job.source_mask, size=size, row=job.row)
        elif job.out_mask is not None:
            mask = self.remover.mask(image)
        box = CROP_BOXES[cfg.crop](job, size, mask)
        if cfg.crop != "none":
            grown = grow_box(box, cfg.margin)
            box = (clip_box(grown, size) if grown is not None else None) or box

        if cfg.remove_background is not None and mask is not None:
            fill = Image.new("RGB", size, cfg.background_fill)
            image = Image.composite(image, fill, Image.fromarray(mask, mode="L"))
        image = image.crop(box)
        x0, y0, x1, y1 = box
        if mask is not None:
            mask = mask[y0:y1, x0:x1]

        # Mask before image: the image file is what marks the job done on disk.
        if mask is not None and job.out_mask is not None:
            write_mask(self.out_dir / job.out_mask, mask)
        fmt = IMAGE_FORMATS[_format_name(cfg, job.source)]
        with atomic_path(self.out_dir / job.out_image, suffix=fmt.suffix) as tmp:
            image.save(tmp, **fmt.save_options)

        bbox: tuple[int, int, int, int] | None = None
        if job.bbox is not None:  # the catalog's own box, moved into the crop
            bbox = clip_box((job.bbox[0] - x0, job.bbox[1] - y0, job.bbox[2] - x0, job.bbox[3] - y0), image.size)
        if bbox is None and mask is not None:
            bbox = mask_bbox(mask)
        return _Done(job.out_image, job.out_mask, bbox, image.width, image.height)


def _format_name(config: PreprocessConfig, source: str) -> SavedFormat:
    """The format ``source`` is saved in: the configured one, or for ``auto`` by the source's suffix."""
    if config.image_format == "auto":
        return SOURCE_FORMAT.get(Path(source).suffix.lower(), "png")
    return config.image_format


_PROCESS_WORKER: _Worker | None = None


def _init_process(config: PreprocessConfig, out_dir: str) -> None:
    global _PROCESS_WORKER
    import cv2

    cv2.setNumThreads(1)  # one image per process already uses the cores; nested threads only contend
    _PROCESS_WORKER = _Worker(config, Path(out_dir))


@dataclass(frozen=True)
class _Failed:
    """A job that raised a known error: the problem to report, and the exception itself when in-process."""

    problem: Problem
    error: ColorVariantsError | None = None


def _run_in_process(job: _Job) -> tuple[_Job, _Done | _Failed]:
    """Pool entry point; known errors come back as a ``Problem`` (custom exceptions do not always pickle)."""
    if _PROCESS_WORKER is None:
        raise RuntimeError("preprocess worker used before its initializer ran")
    try:
        return job, _PROCESS_WORKER.run(job)
    except DiskFullError:  # the disk, not this image: stop the run even under on_error="skip"
        raise
    except ColorVariantsError as exc:
        return job, _Failed(_problem(job, exc))


def _problem(job: _Job, exc: ColorVariantsError) -> Problem:
    code = "unreadable-image" if isinstance(exc, ImageLoadError) else "preprocess-failed"
    return Problem("error", code, str(exc), row=job.row, file=job.source)


# -- planning, resuming, writing ------------------------------------------------------------------------------
def _safe_key(rel: str) -> str:
    """The image path without suffix, made safe to nest under the output folder (no ``..``, not absolute)."""
    parts = [p for p in PurePosixPath(rel.replace("\\", "/")).parts if p not in ("/", "", ".")]
    parts = ["_up" if p == ".." else p.replace(":", "_") for p in parts]
    return str(PurePosixPath(*parts).with_suffix("")) if parts else "image"


def _plan(catalog: Catalog, config: PreprocessConfig) -> list[_Job]:
    frame = catalog.frame
    if config.crop == "bbox" and not catalog.has_bbox():
        raise ManifestError(
            f"crop='bbox' needs the columns {list(BBOX_COLUMNS)}; found {list(frame.columns)}.",
            file=catalog.source, fix="add the boxes, or use --crop mask to crop to the foreground mask.",
        )
    keys = [_safe_key(p) for p in frame["image_path"].tolist()]
    counts = pd.Series(keys).value_counts()
    rows = frame["row"].astype(int).tolist() if "row" in frame.columns else list(range(1, len(frame) + 1))
    # The same photo listed twice gets one output per row.
    keys = [k if counts[k] == 1 else f"{k}__row{r}" for k, r in zip(keys, rows, strict=True)]
    has_bbox = catalog.has_bbox()
    needs_mask = config.crop == "mask" or config.remove_background is not None
    jobs: list[_Job] = []
    boxes = frame[list(BBOX_COLUMNS)].to_numpy(dtype=np.float64) if has_bbox else None
    for i, (key, row) in enumerate(zip(keys, rows, strict=True)):
        src_mask = catalog.mask_path_of(i)
        bbox: tuple[float, float, float, float] | None = None
        if boxes is not None and np.isfinite(boxes[i]).all():
            x0, y0, x1, y1 = (float(v) for v in boxes[i])
            bbox = (x0, y0, x1, y1)
        suffix = IMAGE_FORMATS[_format_name(config, str(frame.at[i, "image_path"]))].suffix
        jobs.append(
            _Job(
                index=i, row=row, source=str(catalog.path_of(i)),
                source_mask=str(src_mask) if src_mask is not None else None,
                bbox=bbox,
                out_image=f"images/{key}{suffix}",
                out_mask=f"masks/{key}.png" if (needs_mask or src_mask is not None) else None,
            )
        )
    return jobs


def _inputs_digest(jobs: list[_Job]) -> str:
    """A hash of what decides each output (paths, masks, boxes): an edited box must not resume stale crops."""
    h = hashlib.sha1()
    for job in jobs:
        h.update(repr((job.source, job.source_mask, job.bbox, job.out_image, job.out_mask)).encode())
    return h.hexdigest()[:16]


def _check_settings(out_dir: Path, settings: dict[str, Any], catalog: Catalog) -> None:
    """Refuse to resume into a folder prepared with other settings, from another catalog or from changed images."""
    path = out_dir / SETTINGS_NAME
    if path.is_file():
        try:
            previous = json.loads(path.read_text())
        except (OSError, ValueError):
            previous = None
        if previous == settings:
            return
        files_only = isinstance(previous, dict) and "files" in previous and {**previous, "files": settings["files"]}
        if files_only == settings:  # the same run's settings: only image files changed since
            changed = catalog.file_changed_after(path.stat().st_mtime_ns)
            raise ColorVariantsError(
                f"{out_dir} already holds a preprocess run of other image files: images changed since it was "
                f"made ({f'e.g. {changed}' if changed else 'an image size or modification time differs'}). "
                f"Fix: choose a new --out, or delete {out_dir} to start over."
            )
        raise ColorVariantsError(
            f"{out_dir} already holds a preprocess run with other settings or another catalog "
            f"(see {path}). Fix: choose a new --out, or delete {out_dir} to start over."
        )
    write_json(path, settings)


def _read_journal(path: Path) -> dict[str, _Done]:
    """Finished jobs by output image; a torn last line (a killed run) is ignored."""
    done: dict[str, _Done] = {}
    if not path.is_file():
        return done
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
            box = rec["bbox"]
            bbox = (int(box[0]), int(box[1]), int(box[2]), int(box[3])) if box is not None else None
            item = _Done(rec["out_image"], rec["out_mask"], bbox, int(rec["width"]), int(rec["height"]))
        except (ValueError, KeyError, TypeError, IndexError):
            continue
        done[item.out_image] = item
    return done


def _is_done(job: _Job, done: dict[str, _Done], out_dir: Path) -> bool:
    rec = done.get(job.out_image)
    if rec is None or rec.out_mask != job.out_mask or not (out_dir / job.out_image).is_file():
        return False
    return job.out_mask is None or (out_dir / job.out_mask).is_file()


def _execute(
    todo: list[_Job], config: PreprocessConfig, out_dir: Path, workers: int, remover: BackgroundRemover | None
) -> Iterator[tuple[_Job, _Done | _Failed]]:
    """Run jobs in this process (``workers <= 1``) or a spawn pool, yielding results as they finish."""
    if workers <= 1 or len(todo) <= 1:
        worker = _Worker(config, out_dir, remover)
        for job in todo:
            try:
                yield job, worker.run(job)
            except DiskFullError:  # the disk, not this image: stop the run even under on_error="skip"
                raise
            except ColorVariantsError as exc:
                yield job, _Failed(_problem(job, exc), exc)
        return
    # spawn, not fork: OpenCV's and ONNX Runtime's thread pools do not survive a fork reliably. An executor, not
    # multiprocessing.Pool: a worker that dies (killed, out of memory) raises BrokenProcessPool instead of hanging.
    ctx = multiprocessing.get_context("spawn")
    chunk = max(1, min(16, len(todo) // (workers * 8)))
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_process,
                             initargs=(config, str(out_dir))) as pool:
        try:
            yield from pool.map(_run_in_process, todo, chunksize=chunk)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _int_or_na(values: list[int | None]) -> pd.Series:
    return pd.Series(values, dtype="Int64")


def _write_manifest(catalog: Catalog, jobs: list[_Job], done: dict[str, _Done], out_dir: Path) -> Path:
    frame = catalog.frame.drop(columns=["row"], errors="ignore").copy()
    finished = [done.get(job.out_image) for job in jobs]
    keep = [rec is not None for rec in finished]
    recs = [rec for rec in finished if rec is not None]
    frame = frame.loc[keep].reset_index(drop=True)
    if "source_image_path" in frame.columns:  # preprocessing a preprocessed catalog: point at the last step
        frame["source_image_path"] = frame["image_path"]
    else:
        frame.insert(1, "source_image_path", frame["image_path"])
    frame["image_path"] = [rec.out_image for rec in recs]
    if any(rec.out_mask for rec in recs):
        frame["mask_path"] = [rec.out_mask or "" for rec in recs]
    elif "mask_path" in frame.columns:
        frame = frame.drop(columns=["mask_path"])
    if any(rec.bbox is not None for rec in recs):
        for j, col in enumerate(BBOX_COLUMNS):
            frame[col] = _int_or_na([rec.bbox[j] if rec.bbox is not None else None for rec in recs])
    else:
        frame = frame.drop(columns=[c for c in BBOX_COLUMNS if c in frame.columns])
    dest = out_dir / MANIFEST_NAME
    Catalog.from_frame(frame, out_dir, source=dest).save(dest)
    return dest


def _write_skipped(out_dir: Path, problems: list[Problem]) -> None:
    path = out_dir / SKIPPED_NAME
    if not problems:
        path.unlink(missing_ok=True)
        return
    table = pd.DataFrame([{"row": p.row, "image": p.file, "code": p.code, "message": p.message} for p in problems])
    with atomic_path(path, suffix=".csv") as tmp:
        table.to_csv(tmp, index=False)


def preprocess_catalog(
    catalog: Catalog,
    out_dir: str | Path,
    *,
    crop: CropMode = "none",
    remove_background: str | None = None,
    background_fill: tuple[int, int, int] = (255, 255, 255),
    margin: float = CROP_MARGIN,
    workers: int = 2,
    on_error: OnError = "raise",
    image_format: ImageFormatName = "auto",
    remover_options: dict[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """Write cropped / background-removed images, their masks and a manifest under ``out_dir``; return the manifest.

    The new manifest (``out_dir/manifest.csv``, image root ``out_dir``) keeps every column of the old one, adds
    ``source_image_path``, points ``image_path`` at ``images/...`` and ``mask_path`` at ``masks/...png``, and
    gives ``bbox_*`` in the new image's pixels (the catalog's box when it had one, else the mask's box).

    Args:
        catalog: the catalog to prepare.
        out_dir: output folder; rerunning with the same settings resumes, other settings are refused.
        crop: ``"none"``, ``"bbox"`` (manifest boxes) or ``"mask"`` (foreground box).
        remove_background: backend name (``"floodfill"``, ``"grabcut"``, ``"rembg"``) or None to keep it.
        background_fill: RGB colour painted over removed background.
        margin: share of the box's width/height added on each side of a crop.
        workers: processes; ``<= 1`` runs in this process.
        on_error: ``"raise"`` stops at the first unreadable image or unusable row; ``"skip"`` leaves it out of
            the manifest and lists it in ``out_dir/skipped.csv``.
        image_format: ``"auto"``, ``"jpg"`` or ``"png"``.
        remover_options: backend config fields, e.g. ``{"model": "isnet-general-use"}`` for rembg.
        progress: show a tqdm progress bar.

    Raises:
        ColorVariantsError: bad settings, a backend that cannot run (rembg without package or weights), ``out_dir``
            holding another run, or (with ``on_error="raise"``) the first image that fails.
        ManifestError: ``crop="bbox"`` without box columns.
    """
    config = PreprocessConfig(
        crop=crop, remove_background=remove_background, background_fill=background_fill, margin=margin,
        image_format=image_format, remover_options=dict(remover_options or {}),
    )
    if on_error not in ON_ERROR_POLICIES:
        raise ColorVariantsError(f"on_error must be one of {ON_ERROR_POLICIES}, not {on_error!r}.")
    out_dir = Path(out_dir)
    jobs = _plan(catalog, config)
    needs_remover = any(job.out_mask is not None and (config.remove_background or job.source_mask is None)
                        for job in jobs)
    # Build the backend once up front so a missing package or weight file fails before any work starts.
    remover = config.build_remover() if needs_remover else None

    out_dir.mkdir(parents=True, exist_ok=True)
    _check_settings(out_dir, {"format": FORMAT, "version": VERSION, "config": config.to_dict(),
                              "catalog": catalog.fingerprint(), "files": catalog.files_fingerprint(),
                              "inputs": _inputs_digest(jobs)}, catalog)
    journal_path = out_dir / JOURNAL_NAME
    done = _read_journal(journal_path)
    todo = [job for job in jobs if not _is_done(job, done, out_dir)]
    problems: list[Problem] = []

    with disk_full_as_error(journal_path), open(journal_path, "a", encoding="utf-8") as journal, tqdm(
        total=len(jobs), initial=len(jobs) - len(todo), desc="preprocess", unit="img", disable=not progress
    ) as bar:
        if journal.tell() > 0 and not journal_path.read_bytes().endswith(b"\n"):
            journal.write("\n")  # a killed run may have left half a line: never glue a record onto it
        for _job, result in _execute(todo, config, out_dir, workers, remover):
            if isinstance(result, _Failed):
                if on_error == "raise":
                    raise result.error or ColorVariantsError(result.problem.message)
                problems.append(result.problem)
            else:
                done[result.out_image] = result
                journal.write(json.dumps(dataclasses.asdict(result)) + "\n")
                journal.flush()
            bar.update(1)

    if problems:
        tqdm.write(f"skipped {len(problems)} image(s); see {out_dir / SKIPPED_NAME}")
    _write_skipped(out_dir, problems)
    finished = [job for job in jobs if job.out_image in done]
    if not finished:
        raise ColorVariantsError(
            f"no image could be prepared ({len(problems)} failed; see {out_dir / SKIPPED_NAME}). "
            "Fix: check --root and the image files."
        )
    return _write_manifest(catalog, jobs, done, out_dir)

