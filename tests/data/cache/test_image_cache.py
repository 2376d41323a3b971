"""Tests for colorvariants.data.cache: decode once, letterbox, skip or raise, resume, never read half."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import colorvariants.data.cache.builder as cache_mod
from colorvariants.data.cache import (
    ImageCache,
    IncompleteCacheError,
    cache_path,
    default_cache_dir,
    letterbox,
)
from colorvariants.data.catalog import Catalog
from colorvariants.data.images import open_image
from colorvariants.errors import ImageLoadError, ManifestError


class CountingOpen:
    """Wraps ``open_image`` as the cache calls it: counts decodes and can crash at the n-th call."""

    def __init__(self, crash_at: int | None = None) -> None:
        self.calls: list[str] = []
        self.crash_at = crash_at
        self.real = open_image  # the real one, even when the cache module's is already patched

    def __call__(self, path, **kwargs):
        self.calls.append(str(path))
        if self.crash_at is not None and len(self.calls) >= self.crash_at:
            raise RuntimeError("simulated crash (power cut, OOM kill...)")
        return self.real(path, **kwargs)


def _break(catalog: Catalog, i: int, content: bytes = b"") -> None:
    catalog.path_of(i).write_bytes(content)


class TestLetterbox:
    def test_aspect_kept_on_white(self):
        im = Image.new("RGB", (40, 20), (0, 0, 0))
        arr, place = letterbox(im, 16)
        assert arr.shape == (16, 16, 3) and arr.dtype == np.uint8
        assert (place.width, place.height, place.left, place.top) == (16, 8, 0, 4)
        assert (arr[:4] == 255).all() and (arr[12:] == 255).all() and (arr[4:12] == 0).all()


class TestBuild:
    def test_shapes_order_and_reuse(self, make_catalog, tmp_path, monkeypatch):
        cat = make_catalog().load()
        cache = ImageCache.build(cat, 32, tmp_path / "cache", progress=False)
        assert cache.images.shape == (16, 32, 32, 3) and cache.images.dtype == np.uint8
        assert cache.masks is None and cache.valid.all() and cache.skipped == []
        assert cache.directory == cache_path(cat, 32, tmp_path / "cache")
        for i in (0, 5, 15):  # row order: each row holds its own image, letterboxed
            src = Image.open(cat.path_of(i)).convert("RGB")
            ref, _ = letterbox(src, 32)
            assert np.abs(cache.images[i].astype(int) - ref.astype(int)).max() <= 2
        # Tall images (40x56) are padded left and right with white.
        assert (cache.images[1][:, 0] == 255).all()
        counter = CountingOpen()
        monkeypatch.setattr(cache_mod, "open_image", counter)
        again = ImageCache.build(cat, 32, tmp_path / "cache", progress=False)
        assert counter.calls == []  # decoded once
        assert np.array_equal(again.images, cache.images)
        assert np.array_equal(ImageCache.open(cat, 32, tmp_path / "cache").images, cache.images)

    def test_key_separates_size_and_crop(self, make_catalog, tmp_path):
        cat = make_catalog(bbox=True).load()
        dirs = {cache_path(cat, 32, tmp_path), cache_path(cat, 64, tmp_path)}
        dirs.add(cache_path(cat, 32, tmp_path, "bbox"))
        assert len(dirs) == 3

    def test_default_cache_dir_from_env(self, monkeypatch, tmp_path):
        monkeypatch.setenv("COLORVARIANTS_CACHE", str(tmp_path / "envcache"))
        assert default_cache_dir() == tmp_path / "envcache"
        monkeypatch.delenv("COLORVARIANTS_CACHE")
        assert default_cache_dir().parts[-2:] == (".cache", "colorvariants")

    def test_masks_letterboxed_with_zero(self, make_catalog, tmp_path):
        cat = make_catalog(masks=True).load()
        cache = ImageCache.build(cat, 32, tmp_path, progress=False)
        assert cache.masks is not None and cache.masks.shape == (16, 32, 32)
        assert set(np.unique(cache.masks).tolist()) == {0, 255}
        tall = cache.masks[1]  # 40x56: padding columns must be background
        assert (tall[:, 0] == 0).all() and tall[16, 16] == 255
        # The mask covers the drawn garment: its pixels are not the light-grey background.
        fg = cache.images[0][cache.masks[0] == 255].astype(int)
        assert (np.abs(fg - 235).max(axis=1) > 20).mean() > 0.9

    def test_crop_bbox_and_mask_zoom_in(self, make_catalog, tmp_path):
        cat = make_catalog(masks=True, bbox=True).load()
        none = ImageCache.build(cat, 32, tmp_path, progress=False)
        bbox = ImageCache.build(cat, 32, tmp_path, crop="bbox", progress=False)
        mask = ImageCache.build(cat, 32, tmp_path, crop="mask", progress=False)
        assert len({none.directory, bbox.directory, mask.directory}) == 3

        def foreground(c: ImageCache) -> float:
            return float((c.masks == 255).mean())

        assert foreground(bbox) > foreground(none) + 0.15
        assert foreground(mask) > foreground(none) + 0.15
        # Cropping changes the pixels, and the crop follows the garment (mostly garment colour now).
        assert not np.array_equal(bbox.images, none.images)

    def test_crop_needs_columns(self, make_catalog, tmp_path):
        cat = make_catalog().load()
        with pytest.raises(ManifestError, match="bbox"):
            ImageCache.build(cat, 32, tmp_path, crop="bbox", progress=False)
        with pytest.raises(ManifestError, match="mask_path"):
            ImageCache.build(cat, 32, tmp_path, crop="mask", progress=False)

    def test_bad_bbox_row_keeps_whole_image(self, make_catalog, tmp_path):
        cat = make_catalog(bbox=True).load()
        cat.frame.loc[0, ["bbox_x0", "bbox_x1"]] = [30.0, 10.0]  # inverted box
        none = ImageCache.build(cat, 32, tmp_path / "a", progress=False)
        bbox = ImageCache.build(cat, 32, tmp_path / "b", crop="bbox", progress=False)
        assert np.array_equal(bbox.images[0], none.images[0])
        assert not np.array_equal(bbox.images[2], none.images[2])


class TestErrors:
    def test_raise_names_file_and_row(self, make_catalog, tmp_path):
        cat = make_catalog().load()
        _break(cat, 5)
        with pytest.raises(ImageLoadError) as exc:
            ImageCache.build(cat, 32, tmp_path, progress=False)
        text = str(exc.value)
        assert str(cat.path_of(5)) in text and "row 6" in text and "Fix:" in text
        with pytest.raises(IncompleteCacheError, match="no meta.json"):
            ImageCache.open(cat, 32, tmp_path)

    def test_skip_records_rows(self, make_catalog, tmp_path, broken_files):
        cat = make_catalog().load()
        _break(cat, 2)
        _break(cat, 9, broken_files.truncated_jpeg.read_bytes())
        cache = ImageCache.build(cat, 32, tmp_path, on_error="skip", progress=False)
        assert cache.valid.sum() == 14 and not cache.valid[2] and not cache.valid[9]
        assert [(p.row, p.code) for p in cache.skipped] == [(3, "empty-file"), (10, "truncated")]
        assert cache.skipped[0].file == str(cat.path_of(2)) and cache.skipped[0].fix
        assert (cache.images[2] == 255).all()
        reopened = ImageCache.open(cat, 32, tmp_path)
        assert reopened.skipped == cache.skipped and np.array_equal(reopened.valid, cache.valid)

    def test_raise_retries_rows_skipped_before(self, make_catalog, tmp_path, monkeypatch):
        spec = make_catalog()
        cat = spec.load()
        good = cat.path_of(4).read_bytes()
        _break(cat, 4)
        skipped = ImageCache.build(cat, 32, tmp_path, on_error="skip", progress=False)
        assert not skipped.valid[4]
        with pytest.raises(ImageLoadError, match="row 5"):  # still broken: the raise policy reports it
            ImageCache.build(cat, 32, tmp_path, on_error="raise", progress=False)
        cat.path_of(4).write_bytes(good)  # the user fixes the file
        counter = CountingOpen()
        monkeypatch.setattr(cache_mod, "open_image", counter)
        fixed = ImageCache.build(cat, 32, tmp_path, on_error="raise", progress=False)
        assert counter.calls == [str(cat.path_of(4))] and fixed.valid.all() and fixed.skipped == []

    def test_path_traversal_never_read(self, make_catalog, tmp_path):
        spec = make_catalog()
        frame = spec.load().frame.copy()
        outside = tmp_path / "secret.png"
        Image.new("RGB", (8, 8)).save(outside)
        frame.loc[0, "image_path"] = "../../secret.png"
        cat = Catalog.from_frame(frame, spec.root, check=False)
        cache = ImageCache.build(cat, 16, tmp_path / "c", on_error="skip", progress=False)
        assert not cache.valid[0] and cache.skipped[0].code == "path-escapes-root"


class TestResume:
    def test_crash_then_resume_decodes_only_the_rest(self, make_catalog, tmp_path, monkeypatch):
        cat = make_catalog(n_styles=5, masks=True).load()  # 20 rows
        clean = ImageCache.build(cat, 24, tmp_path / "clean", progress=False)

        crashing = CountingOpen(crash_at=11)
        monkeypatch.setattr(cache_mod, "open_image", crashing)
        with pytest.raises(RuntimeError, match="simulated crash"):
            ImageCache.build(cat, 24, tmp_path / "resumed", progress=False, chunk_size=4, workers=2)
        directory = cache_path(cat, 24, tmp_path / "resumed")
        assert not (directory / "meta.json").exists()  # never mistaken for complete
        with pytest.raises(IncompleteCacheError):
            ImageCache.open_dir(directory)
        recorded = set()
        for line in (directory / "progress.log").read_text().splitlines():
            recorded.update(json.loads(line)["ok"])
        assert 8 <= len(recorded) < 20  # at least the two chunks before the crash

        counter = CountingOpen()
        monkeypatch.setattr(cache_mod, "open_image", counter)
        resumed = ImageCache.build(cat, 24, tmp_path / "resumed", progress=False, chunk_size=4)
        decoded = {str(cat.path_of(i)) for i in range(20) if i not in recorded}
        assert sorted(counter.calls) == sorted(decoded)  # only the missing rows
        assert np.array_equal(resumed.images, clean.images)
        assert np.array_equal(resumed.masks, clean.masks)
        assert resumed.valid.all()

    def test_torn_progress_line_ignored(self, make_catalog, tmp_path, monkeypatch):
        cat = make_catalog().load()
        monkeypatch.setattr(cache_mod, "open_image", CountingOpen(crash_at=9))
        with pytest.raises(RuntimeError):
            ImageCache.build(cat, 16, tmp_path, progress=False, chunk_size=4, workers=1)
        directory = cache_path(cat, 16, tmp_path)
        with open(directory / "progress.log", "a") as fh:
            fh.write('{"ok": [12, 13')  # a crash in the middle of an append
        counter = CountingOpen()
        monkeypatch.setattr(cache_mod, "open_image", counter)
        cache = ImageCache.build(cat, 16, tmp_path, progress=False, chunk_size=4)
        assert len(counter.calls) == 8 and cache.valid.all()

    def test_damaged_complete_cache_is_repaired(self, make_catalog, tmp_path):
        cat = make_catalog().load()
        ref = ImageCache.build(cat, 16, tmp_path, progress=False)
        expected = np.array(ref.images)
        (ref.directory / "valid.npy").unlink()  # e.g. a partial copy of the cache folder
        with pytest.raises(IncompleteCacheError, match="delete the folder"):
            ImageCache.open(cat, 16, tmp_path)
        repaired = ImageCache.build(cat, 16, tmp_path, progress=False)
        assert np.array_equal(repaired.images, expected) and repaired.valid.all()

    def test_truncated_array_header_rebuilds(self, make_catalog, tmp_path):
        cat = make_catalog().load()
        directory = cache_path(cat, 16, tmp_path)
        directory.mkdir(parents=True)
        (directory / "images.npy").write_bytes(b"\x93NUMPY\x01")  # a crash while creating the file
        (directory / "progress.log").write_text('{"ok": [0, 1, 2], "skipped": []}\n')
        cache = ImageCache.build(cat, 16, tmp_path, progress=False)
        ref = ImageCache.build(cat, 16, tmp_path / "ref", progress=False)
        assert np.array_equal(cache.images, ref.images)  # stale progress was not trusted


class TestReplacedImages:
    """An image replaced in place (same path, new content) is never served from the old pixels."""

    def test_complete_cache_redoes_only_the_changed_row(self, make_catalog, tmp_path, monkeypatch,
                                                         replace_in_place):
        cat = make_catalog().load()
        old = np.array(ImageCache.build(cat, 16, tmp_path, progress=False).images)
        expected = letterbox(replace_in_place(cat.path_of(3)), 16)[0]
        with pytest.raises(IncompleteCacheError, match=r"images changed since the cache was built.*s0_p1_1"):
            ImageCache.open(cat, 16, tmp_path)
        counter = CountingOpen()
        monkeypatch.setattr(cache_mod, "open_image", counter)
        cache = ImageCache.build(cat, 16, tmp_path, progress=False)
        assert counter.calls == [str(cat.path_of(3))]
        assert np.array_equal(cache.images[3], expected)
        assert np.array_equal(np.delete(cache.images, 3, axis=0), np.delete(old, 3, axis=0))
        assert np.array_equal(ImageCache.open(cat, 16, tmp_path).images, cache.images)

    def test_interrupted_build_redoes_a_replaced_row(self, make_catalog, tmp_path, monkeypatch, replace_in_place):
        cat = make_catalog().load()
        monkeypatch.setattr(cache_mod, "open_image", CountingOpen(crash_at=9))
        with pytest.raises(RuntimeError):
            ImageCache.build(cat, 16, tmp_path, progress=False, chunk_size=4, workers=1)
        expected = letterbox(replace_in_place(cat.path_of(1)), 16)[0]  # decoded before the crash
        # A second crash before the changed row is redone must not let the journal's "done" stand for it.
        monkeypatch.setattr(cache_mod, "open_image", CountingOpen(crash_at=1))
        with pytest.raises(RuntimeError):
            ImageCache.build(cat, 16, tmp_path, progress=False, chunk_size=4, workers=1)
        monkeypatch.setattr(cache_mod, "open_image", CountingOpen())
        cache = ImageCache.build(cat, 16, tmp_path, progress=False, chunk_size=4)
        assert np.array_equal(cache.images[1], expected)

    def test_a_missing_file_does_not_break_the_key(self, make_catalog, tmp_path):
        cat = make_catalog().load()
        stats = cat.file_stats()
        cat.path_of(2).unlink()
        assert (cat.file_stats()[2] == -1).all() and cat.files_fingerprint() != cat.files_fingerprint(stats)
        cache = ImageCache.build(cat, 16, tmp_path, progress=False, on_error="skip")
        assert not cache.valid[2] and cache.valid.sum() == 15
