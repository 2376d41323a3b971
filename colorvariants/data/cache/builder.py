"""The image cache builder: decode a catalog's pending rows in chunks into the cache folder's memory maps.

Each image is decoded once (cropped when asked), letterboxed to ``size`` x ``size`` on white (aspect kept) and
written in place into ``images.npy`` (and its mask into ``masks.npy``); after each chunk the pixels are flushed
and the chunk recorded in the journal, so a rerun decodes only the missing rows, and the rows whose image or
mask file changed since it was decoded (``files.npy``: size and mtime of each row's files). ``valid.npy`` and then
``meta.json`` are written last.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from pathlib import Path

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
from colorvariants.data.cache.journal import ProgressJournal
from colorvariants.data.cache.layout import (
    CACHE_META,
    FILES_FILE,
    IMAGES_FILE,
    MASKS_FILE,
    OK,
    PENDING,
    PROGRESS_FILE,
    SKIPPED,
    VALID_FILE,
    recorded_stats,
)
from colorvariants.data.catalog import BBOX_COLUMNS, Catalog
from colorvariants.data.file_stats import CHANGED
from colorvariants.data.images import UnreadableImageError, load_mask, open_image
from colorvariants.data.problems import Problem
from colorvariants.errors import ImageLoadError
from colorvariants.io import create_npy, save_npy, write_json
from colorvariants.metafile import META_FILE


class Builder:
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
        stats: np.ndarray | None = None,
    ) -> None:
        self.catalog = catalog
        self.stats = catalog.file_stats() if stats is None else stats
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
        self.journal = ProgressJournal(directory / PROGRESS_FILE)

    # -- state on disk ------------------------------------------------------------------------------------
    def _open_array(self, name: str, shape: tuple[int, ...]) -> tuple[np.memmap, bool]:
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

    def _mark(self, ok: list[int], skipped: list[tuple[int, Problem]]) -> None:
        """Record in memory that rows ``ok`` are decoded and rows ``skipped`` failed with their problem."""
        self.status[ok] = OK
        for i, problem in skipped:
            self.status[i] = SKIPPED
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
        self.journal.append(ok, skipped)
        self._mark(ok, skipped)

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
                    skipped.append((int(i), Problem.from_image_error(failure)))
                else:
                    fatal = fatal or failure
            self._commit(ok, skipped)
        if crash is not None:
            raise crash
        if fatal is not None:
            raise fatal

    def _redo_changed(self, snapshot: np.ndarray) -> None:
        """Mark pending the rows whose files changed since they were decoded (all rows when not recorded)."""
        old = recorded_stats(self.directory)
        if old is None or old.shape != self.stats.shape:
            changed = np.arange(self.n)
        else:
            changed = np.flatnonzero((old != self.stats).any(axis=1))
        for i in changed[self.status[changed] != PENDING]:
            self.problems.pop(int(i), None)
        self.status[changed] = PENDING
        snapshot[changed, 0::2] = CHANGED

    def run(self) -> None:
        """Decode what is pending, then write ``valid.npy`` and, last, ``meta.json``."""
        started = time.perf_counter()
        self.images, reused = self._open_array(IMAGES_FILE, (self.n, self.size, self.size, 3))
        self.masks: np.memmap | None = None
        if self.has_masks:
            self.masks, masks_reused = self._open_array(MASKS_FILE, (self.n, self.size, self.size))
            reused = reused and masks_reused
        snapshot = self.stats.copy()
        if reused:
            for ok, skipped in self.journal.replay(self.n):
                self._mark(ok, skipped)
            self._redo_changed(snapshot)
        else:
            self.journal.clear()
        # Before decoding: what this run decodes from. Rows found changed keep a mark that never matches a
        # real file until the run finishes, so a crash before they are redone cannot let the journal's old
        # "done" stand for them.
        save_npy(self.directory / FILES_FILE, snapshot)
        retry = SKIPPED if self.on_error == "raise" else PENDING
        pending = np.flatnonzero((self.status == PENDING) | (self.status == retry))
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
        valid = self.status == OK
        save_npy(self.directory / FILES_FILE, self.stats)
        save_npy(self.directory / VALID_FILE, valid)
        skipped_rows = [self.problems[i].to_dict() for i in sorted(self.problems) if self.status[i] == SKIPPED]
        write_json(
            self.directory / META_FILE,
            {
                **CACHE_META.header(),
                "fingerprint": self.catalog.fingerprint(),
                "files": self.catalog.files_fingerprint(self.stats),
                "size": self.size,
                "crop": self.crop,
                "count": self.n,
                "valid": int(valid.sum()),
                "has_masks": self.has_masks,
                "root": str(self.resolved_root),
                "source": str(self.catalog.source) if self.catalog.source else None,
                "build_seconds": round(time.perf_counter() - started, 3),
                "skipped": skipped_rows,
            },
        )
