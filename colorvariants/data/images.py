"""Robust image loading: any catalog image becomes RGB pixels as a viewer shows them, or a clear error.

Real catalogs hold phone photos with EXIF rotation, PNG cut-outs with transparency, CMYK JPEGs from print
workflows, 16-bit PNGs, files cut short by an interrupted download and the occasional HTML error page saved as
``.jpg``. ``load_rgb`` turns all of these into RGB (transparent areas on white, like a product page) or raises
``ImageLoadError`` naming the file, the manifest row and the fix. It never sets PIL's global
``LOAD_TRUNCATED_IMAGES``: a truncated file is an error to report, not grey pixels to train on.

>>> image = load_rgb("images/shirt_red.jpg", row=12)  # doctest: +SKIP
>>> image.mode
'RGB'
"""

from __future__ import annotations

import io
import math
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from colorvariants.data.boxes import Box, clip_box, outer_pixels, scale_box
from colorvariants.errors import ImageLoadError

# PIL's own default for Image.MAX_IMAGE_PIXELS (1024 * 1024 * 1024 // 4 // 3): about a 9459 px square, far
# above any product photo and far below what would exhaust memory when decoded to RGB (~270 MB).
DEFAULT_MAX_PIXELS = 89_478_485

# EXIF orientation -> the transpose that undoes it (the same table as PIL.ImageOps.exif_transpose).
_ORIENTATION_FIX: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = frozenset({5, 6, 7, 8})
_EXIF_ORIENTATION_TAG = 0x0112
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
# Formats that are the same thing to a user choosing a file extension.
_FORMAT_ALIASES = {"MPO": "JPEG"}
_USUAL_EXTENSION = {
    "JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif", "GIF": ".gif", "BMP": ".bmp",
}
# What PIL raises while parsing or decoding a damaged file.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, struct.error, EOFError, IndexError, TypeError, KeyError)


class UnreadableImageError(ImageLoadError):
    """An ``ImageLoadError`` with a short ``code`` (``missing-file``, ``truncated`` ...) for reports.

    Args:
        code: what went wrong, as a stable slug that validation reports and cache skip records use.
        path: the file.
        reason: what is wrong with it, in words.
        fix: what the user should do.
        row: the 1-based manifest row, when known.
    """

    def __init__(self, code: str, path: str | Path, reason: str, fix: str = "", row: int | None = None):
        self.code = code
        super().__init__(path, reason, fix=fix, row=row)


@dataclass(frozen=True)
class ImageHeader:
    """What the file's header says, read without decoding the pixels.

    ``size`` is (width, height) as displayed, i.e. after the EXIF orientation is applied.
    """

    format: str | None
    size: tuple[int, int]
    mode: str
    orientation: int


@dataclass
class LoadedImage:
    """A decoded RGB image and where it came from.

    ``original_size`` is the displayed (width, height) of the whole file before any decoder reduction or crop;
    ``region`` is the crop box actually applied, in ``original_size`` pixels (None: the whole image).
    """

    image: Image.Image
    format: str | None
    original_size: tuple[int, int]
    region: Box | None


def _remove_row_fix(row: int | None) -> str:
    return f"remove manifest row {row}" if row is not None else "remove it from the manifest"


def _check_file(path: Path, row: int | None) -> None:
    """Fail early, with the specific message, for a path that is absent, a folder, or an empty file."""
    if not path.exists():
        raise UnreadableImageError(
            "missing-file", path, "file not found.",
            fix=("image_path uses Windows separators (\\); write it with / (e.g. shoes/red.jpg), as paths are "
                 "read on this system." if "\\" in str(path) else
                 "check image_path and the image root (--root): paths are relative to the root."), row=row,
        )
    if not path.is_file():
        raise UnreadableImageError(
            "not-a-file", path, "the path is a folder, not an image file.",
            fix=f"point image_path at the image file, or {_remove_row_fix(row)}.", row=row,
        )
    if path.stat().st_size == 0:
        raise UnreadableImageError(
            "empty-file", path, "the file is empty (0 bytes), e.g. an interrupted download or copy.",
            fix=f"re-download or re-export the image, or {_remove_row_fix(row)}.", row=row,
        )


def _open_without_pil_limit(path: Path) -> ImageFile.ImageFile:
    """Open (header only) like ``Image.open`` but without PIL's global pixel limit.

    ``Image.open`` refuses anything over twice ``Image.MAX_IMAGE_PIXELS``. Our limit is a parameter instead:
    raising PIL's global would change PIL for the whole process, so after PIL refuses, this loop over PIL's
    format registry reads the size, and ``_open_checked`` applies ``max_pixels`` (refusing, or trusting).
    """
    Image.init()
    fp = open(path, "rb")
    try:
        prefix = fp.read(16)
        for fmt in Image.ID:
            factory, accept = Image.OPEN[fmt]
            try:
                result = accept(prefix) if accept else True
                if result and not isinstance(result, str):
                    fp.seek(0)
                    im = factory(fp, str(path))
                    im._exclusive_fp = True  # PIL closes the file with the image, as Image.open arranges
                    return im
            except (SyntaxError, IndexError, TypeError, struct.error):
                continue
    except BaseException:
        fp.close()
        raise
    fp.close()
    raise UnidentifiedImageError(f"cannot identify image file {str(path)!r}")


# PNG metadata (an ICC profile) may decompress to this much: print-workflow profiles reach tens of MB, while
# PIL's own guard (PngImagePlugin.MAX_TEXT_CHUNK, 1 MB) is sized for text chunks and calls such files unreadable.
PNG_METADATA_LIMIT = 64 * 2**20
_PNG_LIMIT_LOCK = threading.Lock()


def _open_with_large_png_metadata(path: Path) -> ImageFile.ImageFile:
    """``Image.open`` with PIL's PNG chunk guard raised to ``PNG_METADATA_LIMIT`` for this call only."""
    from PIL import PngImagePlugin

    with _PNG_LIMIT_LOCK:
        before = PngImagePlugin.MAX_TEXT_CHUNK
        PngImagePlugin.MAX_TEXT_CHUNK = max(before, PNG_METADATA_LIMIT)
        try:
            return Image.open(path)
        finally:
            PngImagePlugin.MAX_TEXT_CHUNK = before


def _open_checked(path: Path, max_pixels: int, row: int | None) -> ImageFile.ImageFile:
    """Open lazily (header only) and enforce the pixel limit before any pixel is decoded."""
    _check_file(path, row)
    try:
        try:
            try:
                im = Image.open(path)
            except ValueError as exc:
                if "MAX_TEXT_CHUNK" not in str(exc):
                    raise
                im = _open_with_large_png_metadata(path)  # a large ICC profile is metadata, not corruption
        except Image.DecompressionBombError:
            # PIL's own (global) limit; reopen without it to read the size and apply ours below.
            im = _open_without_pil_limit(path)
    except UnidentifiedImageError as exc:
        raise UnreadableImageError(
            "not-an-image", path, "the file is not an image PIL can read (an HTML error page? an unsupported "
            "format?).",
            fix=f"replace it with a JPEG, PNG or WebP, or {_remove_row_fix(row)}.", row=row,
        ) from exc
    except _DECODE_ERRORS as exc:
        raise _corrupt(path, exc, row) from exc
    width, height = im.size
    if width * height > max_pixels:
        im.close()
        raise _too_large(path, (width, height), max_pixels, row)
    if width <= 0 or height <= 0:
        im.close()
        raise UnreadableImageError(
            "corrupt-image", path, f"the header gives an empty size {width}x{height}.",
            fix=f"re-export the image, or {_remove_row_fix(row)}.", row=row,
        )
    return im


def _too_large(
    path: Path, size: tuple[int, int] | None, max_pixels: int, row: int | None, detail: str = ""
) -> UnreadableImageError:
    what = f"{size[0]}x{size[1]} = {size[0] * size[1]:,} pixels" if size else (detail or "the image")
    return UnreadableImageError(
        "image-too-large", path,
        f"{what} exceeds the limit of {max_pixels:,} pixels (decompression-bomb guard); not decoded.",
        fix="downscale the image (product photos need no more than a few thousand pixels a side), or raise "
        "max_pixels (--max-pixels) if the file is trusted.",
        row=row,
    )


def _corrupt(path: Path, exc: BaseException, row: int | None) -> UnreadableImageError:
    text = str(exc) or type(exc).__name__
    truncated = "truncated" in text.lower() or isinstance(exc, EOFError)
    return UnreadableImageError(
        "truncated" if truncated else "corrupt-image",
        path,
        ("the file is truncated (it ends before the image data does)" if truncated else "the file is corrupt")
        + f": {text}.",
        fix=f"re-download or re-export the image, or {_remove_row_fix(row)} (or rerun with --on-error skip to "
        "leave it out).",
        row=row,
    )


def _unsupported(path: Path, mode: str, exc: BaseException, row: int | None) -> UnreadableImageError:
    return UnreadableImageError(
        "unsupported-mode", path, f"pixel mode {mode!r} cannot be converted to RGB ({exc}).",
        fix=f"re-export the image as 8-bit RGB (JPEG or PNG), or {_remove_row_fix(row)}.", row=row,
    )


def _orientation(im: Image.Image) -> int:
    try:
        value = int(im.getexif().get(_EXIF_ORIENTATION_TAG, 1))
    except Exception:  # a broken EXIF block must not make a viewable image unreadable
        return 1
    return value if value in _ORIENTATION_FIX else 1


def read_header(
    path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS, row: int | None = None
) -> ImageHeader:
    """Read format, displayed size and mode without decoding pixels (cheap: a few KB of the file).

    Raises:
        UnreadableImageError: missing, empty, unidentifiable, or over ``max_pixels``.
    """
    path = Path(path)
    im = _open_checked(path, max_pixels, row)
    try:
        orientation = _orientation(im)
        w, h = im.size
        size = (h, w) if orientation in _SWAPS_AXES else (w, h)
        return ImageHeader(format=im.format, size=size, mode=im.mode, orientation=orientation)
    finally:
        im.close()


def _sixteen_bit_to_l(im: Image.Image) -> Image.Image:
    """16/32-bit integer or float grey to 8-bit by scaling the range (PIL's own convert clips at 255)."""
    arr = np.asarray(im)
    if im.mode in _SIXTEEN_BIT_MODES:
        out = (arr.astype(np.uint32) + 128) // 257  # 65535 -> 255, exact for multiples of 257
    elif im.mode == "F":
        arr = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        scale = 255.0 if arr.size and arr.max() <= 1.0 else 1.0  # float images are [0, 1] or [0, 255]
        out = np.clip(np.rint(arr * scale), 0, 255)
    else:  # "I": 32-bit signed; 16-bit data unless the values say otherwise
        arr = arr.astype(np.int64)
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo >= 0 and hi <= 65535:
            out = (arr + 128) // 257
        else:
            out = np.rint((arr - lo) * (255.0 / max(hi - lo, 1)))
    return Image.fromarray(out.astype(np.uint8), mode="L")


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    """CMYK to RGB through the embedded ICC profile when there is one (PIL's plain formula is far off)."""
    icc = im.info.get("icc_profile")
    if icc:
        try:
            from PIL import ImageCms

            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(im, source, srgb, outputMode="RGB")
            if converted is not None:
                return converted
        except Exception:  # no littlecms, or a broken profile: the plain conversion is still usable
            pass
    return im.convert("RGB")


def to_rgb(im: Image.Image) -> Image.Image:
    """Any decoded PIL mode to RGB: transparency composited on white, 16-bit scaled, CMYK via its profile."""
    mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        return im
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        return _sixteen_bit_to_l(im).convert("RGB")
    if mode == "CMYK":
        return _cmyk_to_rgb(im)
    if mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def _region_in_original(
    region: tuple[float, float, float, float] | None,
    frame: tuple[int, int] | None,
    original: tuple[int, int],
) -> Box | None:
    """Scale ``region`` from ``frame`` pixels to the image's, clip it, and round outwards; None if empty."""
    if region is None:
        return None
    if frame is not None and frame != original:
        region = scale_box(region, original[0] / frame[0], original[1] / frame[1])
    return clip_box(region, original)


def open_image(
    path: str | Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    row: int | None = None,
    region: tuple[float, float, float, float] | None = None,
    region_frame: tuple[int, int] | None = None,
    fit: int | None = None,
) -> LoadedImage:
    """Decode a whole image file to RGB, optionally cropped, with the facts a cache or a report needs.

    Args:
        path: the image file.
        max_pixels: refuse (before decoding) images with more pixels than this.
        row: the 1-based manifest row, named in errors.
        region: crop box ``(x0, y0, x1, y1)`` in displayed pixels (after EXIF rotation); clipped to the image;
            an empty or non-finite box means the whole image.
        region_frame: the (width, height) that ``region`` is measured in, when not the image's own (a mask of
            another resolution); the box is scaled to the image.
        fit: the caller will shrink the (cropped) image so its longer side is ``fit`` pixels; JPEGs are then
            decoded at 1/2, 1/4 or 1/8 scale (DCT scaling, several times faster) but never below that.

    Raises:
        UnreadableImageError: missing, empty, not an image, too large, truncated or corrupt.
    """
    path = Path(path)
    im = _open_checked(path, max_pixels, row)
    try:
        orientation = _orientation(im)
        raw_w, raw_h = im.size
        original = (raw_h, raw_w) if orientation in _SWAPS_AXES else (raw_w, raw_h)
        box = _region_in_original(region, region_frame, original)
        fmt = im.format
        if fit and fmt in ("JPEG", "MPO"):
            crop_w, crop_h = (box[2] - box[0], box[3] - box[1]) if box else original
            scale = fit / max(crop_w, crop_h)
            if scale < 0.5:  # DCT scaling only helps from a factor of 2
                im.draft(im.mode, (max(1, math.ceil(raw_w * scale)), max(1, math.ceil(raw_h * scale))))
        try:
            im.load()
        except Image.DecompressionBombError as exc:
            raise _too_large(path, None, max_pixels, row, detail=str(exc)) from exc
        except MemoryError as exc:
            raise _too_large(path, original, max_pixels, row, detail=str(exc)) from exc
        except _DECODE_ERRORS as exc:
            raise _corrupt(path, exc, row) from exc
        try:
            rgb = to_rgb(im)
        except (ValueError, OSError) as exc:
            raise _unsupported(path, im.mode, exc, row) from exc
        if orientation in _ORIENTATION_FIX:
            rgb = rgb.transpose(_ORIENTATION_FIX[orientation])
        if box is not None:
            rgb = rgb.crop(outer_pixels(scale_box(box, rgb.width / original[0], rgb.height / original[1])))
        if rgb is im:  # detach from the file before closing it
            rgb = rgb.copy()
        return LoadedImage(image=rgb, format=fmt, original_size=original, region=box)
    finally:
        im.close()


def load_rgb(
    path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS, row: int | None = None, fit: int | None = None
) -> Image.Image:
    """Load an image as RGB as a viewer shows it: EXIF rotation applied, transparency on white.

    L, 16-bit (``I;16``/``I``, scaled to 8 bit, not clipped), CMYK (through its ICC profile), palette and
    alpha modes all become RGB. The whole file is decoded, so a truncated file fails here, not later.
    A file whose extension lies about its format loads fine (``validate`` warns about it).

    Args:
        path: the image file.
        max_pixels: decompression-bomb guard: the size is read from the header and an image with more pixels
            is refused before decoding (default ``DEFAULT_MAX_PIXELS``, PIL's default limit).
        row: the 1-based manifest row, named in errors.
        fit: see ``open_image``: allow the JPEG decoder to downscale while the longer side stays >= ``fit``.

    Raises:
        ImageLoadError: (an ``UnreadableImageError`` with a ``code``) naming the file, the row and the fix.

    >>> load_rgb("shirt.png").mode  # doctest: +SKIP
    'RGB'
    """
    return open_image(path, max_pixels=max_pixels, row=row, fit=fit).image


def load_mask(
    path: str | Path,
    size: int | tuple[int, int] | None = None,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    row: int | None = None,
) -> np.ndarray:
    """Load a foreground mask as a uint8 array of 0 (background) and 255 (garment), shape (height, width).

    A mask with a varying alpha channel (a cut-out) uses its alpha; otherwise its grey level, thresholded at
    half. ``size`` (an int for a square, or (width, height)) resizes before thresholding (smooth edges).

    Raises:
        ImageLoadError: as ``load_rgb``.
    """
    path = Path(path)
    im = _open_checked(path, max_pixels, row)
    try:
        orientation = _orientation(im)
        try:
            im.load()
        except _DECODE_ERRORS as exc:
            raise _corrupt(path, exc, row) from exc
        try:
            if im.mode in _ALPHA_MODES or "transparency" in im.info:
                rgba = im.convert("RGBA")
                alpha = rgba.getchannel("A")
                lo, hi = alpha.getextrema()
                grey = alpha if lo != hi else rgba.convert("L")
            elif im.mode in _SIXTEEN_BIT_MODES or im.mode in ("I", "F"):
                grey = _sixteen_bit_to_l(im)
            else:
                grey = im.convert("L")
        except (ValueError, OSError) as exc:
            raise _unsupported(path, im.mode, exc, row) from exc
        if orientation in _ORIENTATION_FIX:
            grey = grey.transpose(_ORIENTATION_FIX[orientation])
        if size is not None:
            target = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
            if target != grey.size:
                grey = grey.resize(target, Image.Resampling.BILINEAR)
        arr = np.asarray(grey)
        return np.where(arr >= 128, 255, 0).astype(np.uint8)
    finally:
        im.close()


def expected_extensions(fmt: str | None) -> list[str]:
    """File extensions PIL registers for a format, the usual one first (``JPEG`` -> ``.jpg, .jfif, ...``)."""
    if fmt is None:
        return []
    fmt = _FORMAT_ALIASES.get(fmt, fmt)
    exts = sorted(ext for ext, f in Image.registered_extensions().items() if _FORMAT_ALIASES.get(f, f) == fmt)
    usual = _USUAL_EXTENSION.get(fmt)
    return [usual, *(e for e in exts if e != usual)] if usual in exts else exts


def extension_matches(path: str | Path, fmt: str | None) -> bool:
    """Whether a file's suffix names the format its content has (a ``.jpg`` that is really a PNG does not)."""
    if fmt is None:
        return True
    return Path(path).suffix.lower() in expected_extensions(fmt)
