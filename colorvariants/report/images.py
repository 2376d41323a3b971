"""Image thumbnails as base64 JPEG data URIs, so a report embeds its pictures and stays a single file.

Each file is decoded once per ``Thumbnails`` (the gallery shows the same gallery images for several methods),
letterboxed on white to a square like the training cache, and encoded small (a few kB) to keep the page light.
An unreadable or missing image becomes a grey placeholder tile instead of failing the report.

>>> thumbs = Thumbnails(root=Path("catalog"), size=72)   # doctest: +SKIP
>>> thumbs.uri("images/s0001/p0001_0.jpg")[:23]           # doctest: +SKIP
'data:image/jpeg;base64,'
"""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

from PIL import Image, ImageDraw

from colorvariants.data.images import load_rgb
from colorvariants.errors import ColorVariantsError

log = logging.getLogger(__name__)

JPEG_PREFIX = "data:image/jpeg;base64,"


def encode_jpeg(image: Image.Image, quality: int = 82) -> str:
    """A PIL image as a ``data:image/jpeg;base64,...`` URI."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality, optimize=True)
    return JPEG_PREFIX + base64.b64encode(buf.getvalue()).decode("ascii")


def letterbox(image: Image.Image, size: int) -> Image.Image:
    """Shrink ``image`` to fit a ``size`` x ``size`` white square, aspect kept, centred."""
    image = image.convert("RGB")
    scale = size / max(image.width, image.height)
    w, h = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    resized = image.resize((w, h), Image.Resampling.LANCZOS) if (w, h) != image.size else image
    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    canvas.paste(resized, ((size - w) // 2, (size - h) // 2))
    return canvas


def placeholder(size: int) -> Image.Image:
    """A grey tile with a diagonal cross: the picture could not be read."""
    tile = Image.new("RGB", (size, size), (232, 232, 236))
    draw = ImageDraw.Draw(tile)
    draw.line((0, 0, size, size), fill=(200, 200, 206), width=2)
    draw.line((0, size, size, 0), fill=(200, 200, 206), width=2)
    return tile


class Thumbnails:
    """Thumbnail data URIs of images under ``root``, each file decoded and encoded once per size.

    Args:
        root: the folder relative ``image_path`` values hang from (None: relative paths become placeholders).
        size: default side of the square thumbnails in pixels (drawn at 2x for sharp high-DPI display).
        quality: JPEG quality.
    """

    def __init__(self, root: Path | None, size: int = 72, quality: int = 82) -> None:
        self.root = Path(root) if root is not None else None
        self.size = size
        self.quality = quality
        self._cache: dict[tuple[str, int], str] = {}
        self.missing: list[str] = []

    def uri(self, image_path: str, size: int | None = None) -> str:
        """The data URI of ``image_path`` (relative to the root, or absolute), a placeholder if unreadable."""
        side = int(size or self.size)
        key = (image_path, side)
        if key not in self._cache:
            self._cache[key] = encode_jpeg(self._render(image_path, side), self.quality)
        return self._cache[key]

    def _render(self, image_path: str, side: int) -> Image.Image:
        pixels = side * 2  # retina: the tile is shown at `side` CSS pixels
        path = Path(image_path)
        if not path.is_absolute():
            if self.root is None:
                self._note_missing(image_path)
                return placeholder(pixels)
            path = self.root / path
        try:
            image = load_rgb(path, fit=pixels)
            # Never upscale past the file's own resolution: the browser does that for free, bytes do not.
            return letterbox(image, max(side, min(pixels, max(image.width, image.height))))
        except (ColorVariantsError, OSError) as exc:
            log.warning("report: cannot read %s (%s); showing a placeholder", path, exc)
            self._note_missing(image_path)
            return placeholder(pixels)

    def _note_missing(self, image_path: str) -> None:
        if image_path not in self.missing:
            self.missing.append(image_path)

    def __len__(self) -> int:
        return len(self._cache)
