"""Tests for colorvariants.data.images: every awkward or broken file becomes RGB or an actionable error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from colorvariants.data.images import (
    DEFAULT_MAX_PIXELS,
    UnreadableImageError,
    expected_extensions,
    extension_matches,
    load_mask,
    load_rgb,
    open_image,
    read_header,
)
from colorvariants.errors import ImageLoadError


def _exif_jpeg(path: Path, orientation: int) -> None:
    """A 40x20 JPEG, left half red and right half blue as stored, with an EXIF orientation tag."""
    arr = np.zeros((20, 40, 3), dtype=np.uint8)
    arr[:, :20] = (255, 0, 0)
    arr[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(arr).save(path, quality=95, exif=exif.tobytes())


class TestModes:
    def test_plain_jpeg_is_rgb(self, broken_files):
        im = load_rgb(broken_files.good)
        assert im.mode == "RGB" and im.size == (64, 48)

    def test_exif_orientation_applied(self, tmp_path):
        path = tmp_path / "rotated.jpg"
        _exif_jpeg(path, 6)  # 6: stored rotated; a viewer turns it 90 degrees clockwise
        im = load_rgb(path)
        assert im.size == (20, 40)
        arr = np.asarray(im).astype(int)
        assert arr[5, 10, 0] > 200 and arr[5, 10, 2] < 60  # top is the stored left (red)
        assert arr[35, 10, 2] > 200 and arr[35, 10, 0] < 60  # bottom is the stored right (blue)
        assert read_header(path).size == (20, 40)

    def test_rgba_composited_on_white(self, broken_files):
        arr = np.asarray(load_rgb(broken_files.rgba))
        assert tuple(arr[10, 2]) == (0, 0, 255)
        assert tuple(arr[10, 15]) == (255, 255, 255)  # transparent black must not turn black

    def test_palette_with_transparency_on_white(self, broken_files):
        arr = np.asarray(load_rgb(broken_files.palette_alpha))
        assert tuple(arr[5, 5]) == (255, 0, 0)
        assert tuple(arr[5, 25]) == (255, 255, 255)

    def test_la_on_white(self, tmp_path):
        path = tmp_path / "la.png"
        la = np.zeros((8, 8, 2), dtype=np.uint8)
        la[:, :4] = (50, 255)
        Image.fromarray(la, "LA").save(path)
        arr = np.asarray(load_rgb(path))
        assert tuple(arr[0, 0]) == (50, 50, 50) and tuple(arr[0, 7]) == (255, 255, 255)

    def test_grey_to_rgb(self, broken_files):
        im = load_rgb(broken_files.grey)
        assert im.mode == "RGB" and tuple(np.asarray(im)[0, 0]) == (100, 100, 100)

    def test_sixteen_bit_scaled_not_clipped(self, broken_files):
        assert Image.open(broken_files.png16).mode.startswith("I")
        arr = np.asarray(load_rgb(broken_files.png16))
        assert tuple(arr[0, 0]) == (128, 128, 128)  # clipping would give 255
        assert tuple(arr[0, 63]) == (255, 255, 255)

    def test_mode_i_32_bit(self, tmp_path):
        path = tmp_path / "i32.tif"
        arr = np.array([[0, 65535], [257, 32896]], dtype=np.int32)
        Image.fromarray(arr, "I").save(path)
        out = np.asarray(load_rgb(path))[:, :, 0]
        assert out.tolist() == [[0, 255], [1, 128]]

    def test_cmyk_converted(self, broken_files):
        assert Image.open(broken_files.cmyk_jpeg).mode == "CMYK"
        r, g, b = np.asarray(load_rgb(broken_files.cmyk_jpeg))[15, 20].astype(int)
        assert r > 180 and g < 90 and b < 90  # magenta + yellow ink = red

    def test_wrong_extension_still_loads(self, broken_files):
        im = load_rgb(broken_files.wrong_extension)
        assert im.size == (50, 40)
        assert read_header(broken_files.wrong_extension).format == "PNG"
        assert not extension_matches(broken_files.wrong_extension, "PNG")
        assert extension_matches(broken_files.good, "JPEG") and extension_matches("x.JPEG", "MPO")
        assert expected_extensions("PNG")[0] == ".png" and expected_extensions("MPO")[0] == ".jpg"


class TestErrors:
    def _assert_actionable(
        self, exc: pytest.ExceptionInfo[UnreadableImageError], path: Path, code: str
    ) -> None:
        assert isinstance(exc.value, ImageLoadError)
        assert exc.value.code == code
        text = str(exc.value)
        assert str(path) in text and "row 7" in text and "Fix:" in text

    def test_truncated_jpeg(self, broken_files):
        with pytest.raises(UnreadableImageError) as exc:
            load_rgb(broken_files.truncated_jpeg, row=7)
        self._assert_actionable(exc, broken_files.truncated_jpeg, "truncated")
        assert "re-download" in str(exc.value)
        assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # never switched on globally

    def test_truncated_png(self, broken_files):
        with pytest.raises(UnreadableImageError) as exc:
            load_rgb(broken_files.truncated_png, row=7)
        assert exc.value.code in ("truncated", "corrupt-image")
        assert str(broken_files.truncated_png) in str(exc.value) and "row 7" in str(exc.value)

    def test_zero_byte(self, broken_files):
        with pytest.raises(UnreadableImageError) as exc:
            load_rgb(broken_files.zero_byte, row=7)
        self._assert_actionable(exc, broken_files.zero_byte, "empty-file")
        assert "0 bytes" in str(exc.value)

    def test_not_an_image(self, broken_files):
        with pytest.raises(UnreadableImageError) as exc:
            load_rgb(broken_files.not_an_image, row=7)
        self._assert_actionable(exc, broken_files.not_an_image, "not-an-image")

    def test_missing_file(self, tmp_path):
        with pytest.raises(UnreadableImageError) as exc:
            load_rgb(tmp_path / "nope.jpg", row=7)
        self._assert_actionable(exc, tmp_path / "nope.jpg", "missing-file")
        assert "--root" in str(exc.value)

    def test_unconvertible_mode(self, tmp_path, monkeypatch):
        import colorvariants.data.images as images_mod

        path = tmp_path / "odd.png"
        Image.new("RGB", (8, 8)).save(path)

        def refuse(im):
            raise ValueError("conversion from LAB to RGB not supported")

        monkeypatch.setattr(images_mod, "to_rgb", refuse)
        with pytest.raises(UnreadableImageError) as exc:
            load_rgb(path, row=7)
        assert exc.value.code == "unsupported-mode" and "8-bit RGB" in str(exc.value)

    def test_folder_is_not_a_file(self, tmp_path):
        with pytest.raises(UnreadableImageError) as exc:
            load_rgb(tmp_path, row=7)
        assert exc.value.code == "not-a-file"

    def test_bomb_refused_before_decoding(self, broken_files, monkeypatch):
        def no_decode(self, *args, **kwargs):  # the guard must act on the header alone
            raise AssertionError("pixels were decoded")

        monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
        with pytest.raises(UnreadableImageError) as exc:
            load_rgb(broken_files.bomb, row=7)
        self._assert_actionable(exc, broken_files.bomb, "image-too-large")
        assert "30000x30000" in str(exc.value) and f"{DEFAULT_MAX_PIXELS:,}" in str(exc.value)
        assert "--max-pixels" in str(exc.value)

    def test_bomb_limit_is_configurable(self, broken_files):
        with pytest.raises(UnreadableImageError) as exc:
            load_rgb(broken_files.good, max_pixels=64 * 48 - 1)
        assert exc.value.code == "image-too-large"
        assert load_rgb(broken_files.good, max_pixels=64 * 48).size == (64, 48)

    def test_limit_above_pils_own_is_honoured(self, broken_files):
        # PIL alone refuses 900M pixels outright; a caller who trusts the file can raise our limit past it.
        assert read_header(broken_files.bomb, max_pixels=10**9).size == (30000, 30000)
        with pytest.raises(UnreadableImageError):
            read_header(broken_files.bomb)


class TestOpenImage:
    def test_fit_uses_jpeg_draft_but_keeps_enough_pixels(self, tmp_path):
        path = tmp_path / "large.jpg"
        Image.new("RGB", (800, 600), (10, 120, 200)).save(path, quality=90)
        loaded = open_image(path, fit=64)
        assert loaded.original_size == (800, 600)
        assert 64 <= max(loaded.image.size) < 800

    def test_fit_with_region_scales_the_crop(self, tmp_path):
        path = tmp_path / "quarters.jpg"
        arr = np.zeros((600, 800, 3), dtype=np.uint8)
        arr[300:, 400:] = (0, 200, 0)  # bottom-right quarter green
        Image.fromarray(arr).save(path, quality=95)
        loaded = open_image(path, region=(400, 300, 800, 600), fit=64)
        assert loaded.region == (400, 300, 800, 600)
        w, h = loaded.image.size
        assert 64 <= w < 400 and abs(w / h - 4 / 3) < 0.05  # decoded smaller, same crop
        assert np.asarray(loaded.image)[2:-2, 2:-2, 1].min() > 150  # all green: the right quarter

    def test_region_crop_in_displayed_pixels(self, tmp_path):
        path = tmp_path / "two.png"
        arr = np.zeros((40, 80, 3), dtype=np.uint8)
        arr[:, 40:] = 255
        Image.fromarray(arr).save(path)
        loaded = open_image(path, region=(45, 5, 75, 35))
        assert loaded.region == (45, 5, 75, 35) and loaded.image.size == (30, 30)
        assert np.asarray(loaded.image).min() == 255

    def test_region_in_other_frame_and_clipping(self, tmp_path):
        path = tmp_path / "img.png"
        Image.new("RGB", (80, 40)).save(path)
        loaded = open_image(path, region=(10, 5, 30, 15), region_frame=(40, 20))  # a half-size mask's box
        assert loaded.region == (20, 10, 60, 30)
        assert open_image(path, region=(-10, -10, 500, 500)).region == (0, 0, 80, 40)
        assert open_image(path, region=(90, 0, 100, 10)).region is None  # entirely outside: whole image
        assert open_image(path, region=(float("nan"), 0, 1, 1)).region is None


class TestLoadMask:
    def test_threshold_and_resize(self, tmp_path):
        path = tmp_path / "mask.png"
        arr = np.zeros((20, 40), dtype=np.uint8)
        arr[:, 20:] = 200
        Image.fromarray(arr).save(path)
        mask = load_mask(path)
        assert mask.dtype == np.uint8 and set(np.unique(mask).tolist()) == {0, 255}
        assert mask.shape == (20, 40) and mask[0, 30] == 255 and mask[0, 5] == 0
        assert load_mask(path, size=10).shape == (10, 10)
        assert load_mask(path, size=(8, 4)).shape == (4, 8)

    def test_alpha_cutout_used_as_mask(self, broken_files):
        mask = load_mask(broken_files.rgba)
        assert mask[5, 2] == 255 and mask[5, 15] == 0

    def test_broken_mask_is_an_error(self, broken_files):
        with pytest.raises(ImageLoadError):
            load_mask(broken_files.zero_byte)
