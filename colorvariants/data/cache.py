"""The decoded-image cache: every catalog image decoded once into a memory-mapped uint8 array.

Training reads the same images every epoch; decoding JPEGs each time is what makes typical loaders slow
(see BENCHMARKS.md, "Loader"). ``ImageCache.build`` decodes each image once, letterboxes it to ``size`` x
``size`` on white (aspect kept) and stores it in ``images.npy`` (N, size, size, 3) in catalog row order;
batches are then one fancy index of a memory map.

On disk, under ``cache_dir/images-<fingerprint>-<size>-<crop>[-<extra>]/``:

- ``images.npy`` (and ``masks.npy`` when the catalog has masks): written in place, row by row;
- ``progress.log``: one JSON line per finished chunk (rows done, rows skipped with their problems), appended
  and fsynced only after the chunk's pixels are flushed, so a crash loses at most the chunk in flight and a
  rerun decodes only the missing rows;
- ``valid.npy`` then ``meta.json``, written atomically and last: only a folder with ``meta.json`` is complete.

The key covers the list of image paths and the root (``Catalog.fingerprint``), the size, the crop, and the
mask paths / boxes when they are used; it does not cover the files' contents: if images are replaced in
place, delete the cache folder.

>>> cache = ImageCache.build(catalog, 64, on_error="skip")  # doctest: +SKIP
>>> cache.images.shape, int(cache.valid.sum()), len(cache.skipped)  # doctest: +SKIP
((1000, 64, 64, 3), 998, 2)
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from colorvariants.data.boxes import (
    CROP_MARGIN,
    grow_box,
    letterbox,
    letterbox_mask,
    mask_bbox,
    outer_pixels,
    scale_box,
)
from colorvariants.data.catalog import BBOX_COLUMNS, Catalog
from colorvariants.data.images import DEFAULT_MAX_PIXELS, UnreadableImageError, load_mask, open_image
from colorvariants.data.problems import Problem
from colorvariants.errors import ColorVariantsError, ImageLoadError, ManifestError
from colorvariants.io import create_npy, save_npy, write_json
from colorvariants.metafile import META_FILE, MetaFormat, read_meta

OnError = Literal["raise", "skip"]
Crop = Literal["none", "bbox", "mask"]
CACHE_FORMAT = "colorvariants.image_cache"
CACHE_VERSION = 1

_PROGRESS, _IMAGES, _MASKS, _VALID, _LOCK = (
    "progress.log", "images.npy", "masks.npy", "valid.npy", "build.lock"
)
_PENDING, _OK, _SKIPPED = 0, 1, 2


class IncompleteCacheError(ColorVariantsError):
    """A cache folder is absent, unfinished, or does not match the catalog it is opened for."""


CACHE_META = MetaFormat(
    CACHE_FORMAT, CACHE_VERSION, "image cache", IncompleteCacheError,
    writer="ImageCache.build (or the training command)", unfinished="never built, or the build was interrupted",
)


def default_cache_dir() -> Path:
    """``$COLORVARIANTS_CACHE``, else ``~/.cache/colorvariants``."""
    env = os.environ.get("COLORVARIANTS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "colorvariants"


def _extra_key(catalog: Catalog, crop: str) -> str:
    """A digest of what else the pixels depend on: mask paths, boxes for bbox crops, the margin of any crop."""
    if not catalog.has_masks() and crop != "bbox":
        return ""
    h = hashlib.sha1()
    if crop != "none":  # the margin rule changed once (4% of the longer side -> 5% per side): never reuse those
        h.update(f"margin={CROP_MARGIN}".encode())
    if catalog.has_masks():
        for path in catalog.frame["mask_path"].tolist():
            h.update(b"\0" + str(path).encode())
    if crop == "bbox":
        boxes = catalog.frame[list(BBOX_COLUMNS)].to_numpy(dtype=np.float64)
        h.update(np.ascontiguousarray(boxes).tobytes())
    return h.hexdigest()[:8]


def cache_path(catalog: Catalog, size: int, cache_dir: str | Path | None = None, crop: str = "none") -> Path:
    """The folder that holds (or will hold) the cache of ``catalog`` at ``size`` with ``crop``."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    extra = _extra_key(catalog, crop)
    return root / (f"images-{catalog.fingerprint()}-{size}-{crop}" + (f"-{extra}" if extra else ""))


@contextlib.contextmanager
def _build_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on the folder, so DDP ranks (or two runs) never write the same cache at once."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one process per cache is the user's responsibility
        yield
        return
    with open(directory / _LOCK, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _read_meta(directory: Path) -> dict[str, Any]:
    """The folder's checked ``meta.json``; ``IncompleteCacheError`` when it is missing, unfinished or foreign."""
    return read_meta(directory, CACHE_META, counts=("count", "size"))


def _finished_meta(directory: Path) -> dict[str, Any] | None:
    """The folder's checked ``meta.json``, or None when the folder is not a finished cache (yet)."""
    try:
        return _read_meta(directory)
    except IncompleteCacheError:
        return None


def _problem_from_error(exc: ImageLoadError) -> Problem:
    return Problem(
        "error",
        getattr(exc, "code", "unreadable-image"),
        exc.reason,
        fix=exc.fix,
        row=exc.row,
        file=exc.path,
    )


@dataclass
class ImageCache:
    """Decoded, letterboxed images of a catalog in a memory map (see the module docstring for the layout).

    Attributes:
        directory: the cache folder.
        images: uint8 memmap (N, size, size, 3), catalog row order; rows that were skipped are white.
        masks: uint8 memmap (N, size, size) of 0/255 letterboxed with 0; None when the catalog has none.
        valid: bool (N,): False for skipped rows.
        skipped: the problem of each skipped row.
        size: side of the square images.
        crop: ``none``, ``bbox`` or ``mask``.
        meta: the content of ``meta.json``.
    """

    directory: Path
    images: np.ndarray
    masks: np.ndarray | None
    valid: np.ndarray
    skipped: list[Problem]
    size: int
    crop: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.valid)

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        size: int,
        cache_dir: str | Path | None = None,
        *,
        on_error: OnError = "raise",
        crop: Crop = "none",
        workers: int = 2,
        progress: bool = True,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        chunk_size: int = 256,
    ) -> ImageCache:
        """Decode every image of ``catalog`` once (or reuse / resume an existing cache) and open it.

        Args:
            catalog: the images, in the row order the cache keeps.
            size: side of the square each image is letterboxed to.
            cache_dir: parent folder; default ``default_cache_dir()``.
            on_error: ``raise`` stops at the first unreadable image (rows decoded so far are kept for the
                rerun); ``skip`` records it in ``skipped``, marks it invalid and goes on. A complete cache
                with skipped rows built again with ``raise`` retries those rows (a fixed file is picked up).
            crop: ``none``; ``bbox``: crop to the manifest's bbox columns grown by the crop margin
                (``colorvariants.data.boxes``; rows without a valid box keep the whole image); ``mask``: crop to
                the mask's foreground box grown the same way (an empty mask keeps the whole image). Boxes are in
                displayed pixels, after EXIF rotation.
            workers: decoding threads (PIL releases the GIL while decoding and resizing).
            progress: show a tqdm bar.
            max_pixels: decompression-bomb guard, see ``load_rgb``.
            chunk_size: rows decoded between progress records (a crash redoes at most this many).

        Raises:
            ImageLoadError: with ``on_error="raise"``, naming the file, the row and the fix.
            ManifestError: ``crop="bbox"`` without bbox columns, or ``crop="mask"`` without masks.
        """
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if crop not in ("none", "bbox", "mask"):
            raise ValueError(f"crop must be 'none', 'bbox' or 'mask', got {crop!r}")
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        if len(catalog) == 0:
            raise ManifestError(
                "the catalog has no rows: nothing to cache.", file=catalog.source,
                fix="add images to the manifest.",
            )
        if crop == "bbox" and not catalog.has_bbox():
            raise ManifestError(
                "crop='bbox' needs the columns bbox_x0, bbox_y0, bbox_x1, bbox_y1.", file=catalog.source,
                fix="add the box columns to the manifest, or use crop='none'.",
            )
        if crop == "mask" and not catalog.has_masks():
            raise ManifestError(
                "crop='mask' needs a mask_path for every row.", file=catalog.source,
                fix="add mask_path (foreground PNGs), or use crop='none' / 'bbox'.",
            )
        directory = cache_path(catalog, size, cache_dir, crop)
        directory.mkdir(parents=True, exist_ok=True)
        with _build_lock(directory):
            meta = _finished_meta(directory)
            if meta is not None:
                try:
                    cache = cls._open_dir(directory, meta, expect_count=len(catalog))
                except IncompleteCacheError:  # arrays lost or damaged after completion: rebuild what is needed
                    cache = None
                if cache is not None and not (on_error == "raise" and cache.skipped):
                    return cache
                # Retrying skipped rows, or repairing: the folder is unfinished until meta.json is rewritten.
                (directory / META_FILE).unlink()
            _Builder(
                catalog, directory, size, crop, on_error, workers, progress, max_pixels, chunk_size
            ).run()
            return cls._open_dir(directory, _read_meta(directory), expect_count=len(catalog))

    @classmethod
    def open(
        cls, catalog: Catalog, size: int, cache_dir: str | Path | None = None, *, crop: Crop = "none"
    ) -> ImageCache:
        """Open the complete cache of ``catalog`` at ``size`` and ``crop`` without decoding anything.

        Raises:
            IncompleteCacheError: no complete cache for this catalog (build it with ``ImageCache.build``).
        """
        return cls.open_dir(cache_path(catalog, size, cache_dir, crop), expect_count=len(catalog))

    @classmethod
    def open_dir(cls, directory: str | Path, *, expect_count: int | None = None) -> ImageCache:
        """Open a complete cache folder read-only.

        Raises:
            IncompleteCacheError: the folder has no ``meta.json`` (never built, or a build still running or
                interrupted), its ``meta.json`` is not a cache's of this version, or its arrays do not match it.
        """
        directory = Path(directory)
        return cls._open_dir(directory, _read_meta(directory), expect_count=expect_count)

    @classmethod
    def _open_dir(cls, directory: Path, meta: dict[str, Any], *, expect_count: int | None) -> ImageCache:
        count, size = int(meta["count"]), int(meta["size"])
        if expect_count is not None and count != expect_count:
            raise IncompleteCacheError(
                f"{directory}: the cache holds {count} images but the catalog has {expect_count}.",
                fix="delete the folder and rebuild.",
            )
        try:
            images = np.load(directory / _IMAGES, mmap_mode="r")
            masks = np.load(directory / _MASKS, mmap_mode="r") if meta.get("has_masks") else None
            valid = np.load(directory / _VALID)
        except (OSError, ValueError) as exc:
            raise IncompleteCacheError(
                f"{directory}: cache arrays unreadable ({exc}).", fix="delete the folder and rebuild."
            ) from exc
        shapes_ok = (
            images.shape == (count, size, size, 3)
            and images.dtype == np.uint8
            and valid.shape == (count,)
            and (masks is None or masks.shape == (count, size, size))
        )
        if not shapes_ok:
            raise IncompleteCacheError(
                f"{directory}: arrays do not match meta.json.", fix="delete the folder and rebuild."
            )
        skipped = [Problem(**p) for p in meta.get("skipped", [])]
        return cls(directory, images, masks, valid.astype(bool), skipped, size, str(meta["crop"]), meta)


class _Builder:
    """Decodes the pending rows of one cache folder in chunks, recording progress after each chunk."""

    def __init__(
        self,
        catalog: Catalog,
        directory: Path,
        size: int,
        crop: str,
        on_error: str,
        workers: int,
        progress: bool,
        max_pixels: int,
        chunk_size: int,
    ) -> None:
        self.catalog = catalog
        self.directory = directory
        self.size = size
        self.crop = crop
        self.on_error = on_error
        self.workers = max(1, int(workers))
        self.progress = progress
        self.max_pixels = max_pixels
        self.chunk_size = max(1, int(chunk_size))
        self.n = len(catalog)
        self.has_masks = catalog.has_masks()
        frame = catalog.frame
        self.rows = frame["row"].to_numpy(dtype=np.int64)
        self.image_paths = frame["image_path"].tolist()
        self.mask_paths = frame["mask_path"].tolist() if self.has_masks else None
        self.boxes = frame[list(BBOX_COLUMNS)].to_numpy(np.float64) if crop == "bbox" else None
        self.root = catalog.root
        self.resolved_root = catalog.root.resolve()
        self.status = np.zeros(self.n, dtype=np.uint8)
        self.problems: dict[int, Problem] = {}

    # -- state on disk ------------------------------------------------------------------------------------
    def _open_array(self, name: str, shape: tuple[int, ...]) -> tuple[np.ndarray, bool]:
        """Open ``name`` for writing in place; (array, reused) where reused means earlier rows may be kept."""
        path = self.directory / name
        if path.exists():
            try:
                arr = np.lib.format.open_memmap(path, mode="r+")
                if arr.shape == shape and arr.dtype == np.uint8:
                    return arr, True
                del arr
            except (OSError, ValueError):  # a header cut short by a crash during creation
                pass
            path.unlink()
        return create_npy(path, np.uint8, shape), False

    def _replay_progress(self) -> None:
        """Restore row states from ``progress.log``; a torn last line (crash mid-append) is ignored."""
        path = self.directory / _PROGRESS
        if not path.exists():
            return
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                    ok = [int(i) for i in record["ok"]]
                    skipped = [(int(i), Problem(**p)) for i, p in record["skipped"]]
                except (ValueError, KeyError, TypeError):
                    continue
                if any(not 0 <= i < self.n for i in ok) or any(not 0 <= i < self.n for i, _ in skipped):
                    continue
                self.status[ok] = _OK
                for i, problem in skipped:
                    self.status[i] = _SKIPPED
                    self.problems[i] = problem
                for i in ok:
                    self.problems.pop(i, None)

    def _commit(self, ok: list[int], skipped: list[tuple[int, Problem]]) -> None:
        """Make a chunk's pixels durable, then record it: the log never runs ahead of the data."""
        if not ok and not skipped:
            return
        for i, _ in skipped:  # a skipped row reads as a white square, like the letterbox padding
            self.images[i] = 255
            if self.masks is not None:
                self.masks[i] = 0
        self.images.flush()
        if self.masks is not None:
            self.masks.flush()
        line = json.dumps({"ok": ok, "skipped": [[i, p.to_dict()] for i, p in skipped]})
        with open(self.directory / _PROGRESS, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.status[ok] = _OK
        for i, problem in skipped:
            self.status[i] = _SKIPPED
            self.problems[i] = problem
        for i in ok:
            self.problems.pop(i, None)

    # -- decoding -----------------------------------------------------------------------------------------
    def _check_inside_root(self, column: str, rel: str, row: int) -> None:
        """Refuse (as an unreadable image) a path that points outside the image root."""
        if self.catalog.escapes_root(rel):
            problem = self.catalog.escape_problem(column, rel, row)
            raise UnreadableImageError(problem.code, self.root / rel, problem.message, fix=problem.fix, row=row)

    def _decode(self, i: int) -> ImageLoadError | None:
        """Decode row ``i`` into the arrays; an unreadable image is returned (the caller applies on_error)."""
        row = int(self.rows[i])
        rel = self.image_paths[i]
        path = self.root / rel
        try:
            self._check_inside_root("image_path", rel, row)
            mask = None
            region: tuple[float, float, float, float] | None = None
            frame: tuple[int, int] | None = None
            if self.mask_paths is not None:
                self._check_inside_root("mask_path", self.mask_paths[i], row)
                mask = load_mask(self.root / self.mask_paths[i], row=row, max_pixels=self.max_pixels)
            if self.boxes is not None:
                region = grow_box(self.boxes[i], CROP_MARGIN)
            elif self.crop == "mask" and mask is not None:
                tight = mask_bbox(mask)
                region = grow_box(tight, CROP_MARGIN) if tight is not None else None
                frame = (mask.shape[1], mask.shape[0])
            loaded = open_image(
                path, max_pixels=self.max_pixels, row=row, region=region, region_frame=frame, fit=self.size
            )
            pixels, place = letterbox(loaded.image, self.size)
            self.images[i] = pixels
            if mask is not None and self.masks is not None:
                box = None
                if loaded.region is not None:  # the image's crop, in the mask's own pixels
                    sx = mask.shape[1] / loaded.original_size[0]
                    sy = mask.shape[0] / loaded.original_size[1]
                    box = outer_pixels(scale_box(loaded.region, sx, sy))
                self.masks[i] = letterbox_mask(mask, box, place, self.size)
        except ImageLoadError as exc:
            return exc
        return None

    def _run_chunk(self, pool: cf.ThreadPoolExecutor, chunk: np.ndarray, bar: tqdm) -> None:
        futures = [pool.submit(self._decode, i) for i in chunk]
        fatal: ImageLoadError | None = None
        crash: BaseException | None = None
        try:
            for fut in cf.as_completed(futures):
                if fut.exception() is None:
                    bar.update(1)
        finally:
            # Also on Ctrl-C or a crash: keep every row that did finish, so the rerun does not redo it.
            for fut in futures:
                fut.cancel()
            cf.wait(futures)
            ok: list[int] = []
            skipped: list[tuple[int, Problem]] = []
            for i, fut in zip(chunk, futures, strict=True):
                if fut.cancelled():
                    continue
                exc = fut.exception()
                if exc is not None:
                    crash = crash or exc
                    continue
                failure = fut.result()
                if failure is None:
                    ok.append(int(i))
                elif self.on_error == "skip":
                    skipped.append((int(i), _problem_from_error(failure)))
                else:
                    fatal = fatal or failure
            self._commit(ok, skipped)
        if crash is not None:
            raise crash
        if fatal is not None:
            raise fatal

    def run(self) -> None:
        """Decode what is pending, then write ``valid.npy`` and, last, ``meta.json``."""
        started = time.perf_counter()
        self.images, reused = self._open_array(_IMAGES, (self.n, self.size, self.size, 3))
        self.masks: np.ndarray | None = None
        if self.has_masks:
            self.masks, masks_reused = self._open_array(_MASKS, (self.n, self.size, self.size))
            reused = reused and masks_reused
        if reused:
            self._replay_progress()
        else:
            (self.directory / _PROGRESS).unlink(missing_ok=True)
        retry = _SKIPPED if self.on_error == "raise" else _PENDING
        pending = np.flatnonzero((self.status == _PENDING) | (self.status == retry))
        with tqdm(
            total=self.n, initial=self.n - len(pending), desc="decoding images", unit="img",
            disable=not self.progress, dynamic_ncols=True,
        ) as bar, cf.ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="cv-decode") as pool:
            for start in range(0, len(pending), self.chunk_size):
                self._run_chunk(pool, pending[start : start + self.chunk_size], bar)
        self.images.flush()
        if self.masks is not None:
            self.masks.flush()
        del self.images, self.masks
        valid = self.status == _OK
        save_npy(self.directory / _VALID, valid)
        skipped = [self.problems[i].to_dict() for i in sorted(self.problems) if self.status[i] == _SKIPPED]
        write_json(
            self.directory / META_FILE,
            {
                **CACHE_META.header(),
                "fingerprint": self.catalog.fingerprint(),
                "size": self.size,
                "crop": self.crop,
                "count": self.n,
                "valid": int(valid.sum()),
                "has_masks": self.has_masks,
                "root": str(self.resolved_root),
                "source": str(self.catalog.source) if self.catalog.source else None,
                "build_seconds": round(time.perf_counter() - started, 3),
                "skipped": skipped,
            },
        )
