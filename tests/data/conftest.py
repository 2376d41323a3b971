"""Fixtures for the data tests: tiny catalogs of real image files drawn with PIL in a temporary folder."""

from __future__ import annotations

import csv
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from colorvariants.data.catalog import Catalog

PALETTE = [(200, 30, 30), (30, 160, 40), (30, 60, 200), (220, 200, 40), (120, 40, 160), (20, 160, 170)]


def draw_product(size: tuple[int, int], colour: tuple[int, int, int], shape: int) -> Image.Image:
    """A product photo stand-in: one shape (the style) in one colour (the product) on light grey."""
    w, h = size
    im = Image.new("RGB", size, (235, 235, 235))
    d = ImageDraw.Draw(im)
    box = (w // 5, h // 6, w - w // 5, h - h // 6)
    if shape % 3 == 0:
        d.rectangle(box, fill=colour)
    elif shape % 3 == 1:
        d.ellipse(box, fill=colour)
    else:
        d.polygon([(w // 2, h // 6), (w - w // 5, h - h // 6), (w // 5, h - h // 6)], fill=colour)
    return im


def shape_mask(size: tuple[int, int]) -> Image.Image:
    """The foreground box of ``draw_product`` as a 0/255 mask."""
    w, h = size
    m = Image.new("L", size, 0)
    ImageDraw.Draw(m).rectangle((w // 5, h // 6, w - w // 5 - 1, h - h // 6 - 1), fill=255)
    return m


def write_manifest(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> Path:
    """Write rows as a CSV manifest (columns: the union of the rows' keys, in first-seen order)."""
    if columns is None:
        seen: dict[str, None] = {}
        for r in rows:
            seen.update(dict.fromkeys(r))
        columns = list(seen)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({c: r.get(c, "") for c in columns})
    return path


@pytest.fixture
def manifest_writer() -> Callable[..., Path]:
    """``write_manifest(path, rows, columns=None)`` as a fixture (test modules here are not a package)."""
    return write_manifest


@dataclass
class CatalogSpec:
    """What ``make_catalog`` built: the manifest, the image root and the rows written."""

    manifest: Path
    root: Path
    rows: list[dict[str, Any]]

    def load(self, **kwargs: Any) -> Catalog:
        return Catalog.load(self.manifest, self.root, **kwargs)


@pytest.fixture
def make_catalog(tmp_path: Path) -> Callable[..., CatalogSpec]:
    """Factory: ``make_catalog(n_styles=4, products_per_style=2, images_per_product=2, ...)`` -> CatalogSpec.

    Styles cycle through rectangle / ellipse / triangle; products of a style differ in colour. Splits go by
    style (train, train, val, test, ...). ``masks``/``bbox`` add those columns; ``sizes`` cycles image sizes.
    """

    def make(
        n_styles: int = 4,
        products_per_style: int = 2,
        images_per_product: int = 2,
        *,
        sizes: Sequence[tuple[int, int]] = ((48, 40), (40, 56)),
        masks: bool = False,
        bbox: bool = False,
        splits: Sequence[str] | None = ("train", "train", "val", "test"),
        name: str = "cat",
        fmt: str = "png",
    ) -> CatalogSpec:
        root = tmp_path / name
        (root / "images").mkdir(parents=True, exist_ok=True)
        rows: list[dict[str, Any]] = []
        k = 0
        for s in range(n_styles):
            for p in range(products_per_style):
                colour = PALETTE[(s + p) % len(PALETTE)]
                for i in range(images_per_product):
                    size = sizes[k % len(sizes)]
                    k += 1
                    rel = f"images/s{s}_p{p}_{i}.{fmt}"
                    draw_product(size, colour, s).save(root / rel)
                    row: dict[str, Any] = {"image_path": rel, "product_id": f"s{s}p{p}", "style_id": f"s{s}"}
                    if splits:
                        row["split"] = splits[s % len(splits)]
                    if masks:
                        mrel = f"images/s{s}_p{p}_{i}_mask.png"
                        shape_mask(size).save(root / mrel)
                        row["mask_path"] = mrel
                    if bbox:
                        w, h = size
                        row.update(bbox_x0=w // 5, bbox_y0=h // 6, bbox_x1=w - w // 5, bbox_y1=h - h // 6)
                    rows.append(row)
        return CatalogSpec(write_manifest(root / "manifest.csv", rows), root, rows)

    return make


@dataclass
class BrokenFiles:
    """The corpus of broken and awkward inputs, each a real file under ``root``."""

    root: Path
    good: Path
    truncated_jpeg: Path
    truncated_png: Path
    zero_byte: Path
    not_an_image: Path
    wrong_extension: Path  # a PNG named .jpg
    cmyk_jpeg: Path
    png16: Path
    palette_alpha: Path
    rgba: Path
    grey: Path
    bomb: Path  # a 30000 x 30000 PNG header with one row of data: under 100 bytes on disk


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` (1-bit grey) followed by a single row of pixels.

    Opening it reads the size; decoding would need ``width * height`` bytes: what the bomb guard must refuse.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    one_row = zlib.compress(b"\0" + b"\0" * ((width + 7) // 8))
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", one_row)
            + _png_chunk(b"IEND", b""))


@pytest.fixture(scope="session")
def broken_files(tmp_path_factory: pytest.TempPathFactory) -> BrokenFiles:
    """Write the broken-input corpus once per session (the bomb PNG takes a moment to compress)."""
    root = tmp_path_factory.mktemp("broken")
    img = root / "img"
    img.mkdir()
    good = img / "good.jpg"
    draw_product((64, 48), (200, 30, 30), 0).save(good, quality=90)

    big = img / "big.jpg"
    draw_product((256, 192), (30, 60, 200), 1).save(big, quality=90)
    data = big.read_bytes()
    truncated_jpeg = img / "truncated.jpg"
    truncated_jpeg.write_bytes(data[: len(data) // 2])

    png = img / "full.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(png)
    pdata = png.read_bytes()
    truncated_png = img / "truncated.png"
    truncated_png.write_bytes(pdata[: len(pdata) // 2])

    zero_byte = img / "empty.jpg"
    zero_byte.write_bytes(b"")
    not_an_image = img / "error_page.jpg"
    not_an_image.write_text("<html><body>404 Not Found</body></html>")

    wrong_extension = img / "really_png.jpg"
    draw_product((50, 40), (30, 160, 40), 2).save(wrong_extension, format="PNG")

    cmyk_jpeg = img / "cmyk.jpg"
    cmyk = Image.new("CMYK", (40, 30), (0, 255, 255, 0))  # full magenta + yellow = red
    cmyk.save(cmyk_jpeg, quality=95)

    png16 = img / "grey16.png"
    ramp = np.zeros((16, 64), dtype=np.uint16)
    ramp[:, :32] = 32896  # 128 * 257: mid grey in 16 bit
    ramp[:, 32:] = 65535
    Image.fromarray(ramp).save(png16)

    palette_alpha = img / "palette_alpha.png"
    p = Image.new("P", (32, 32), 0)
    p.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    ImageDraw.Draw(p).rectangle((0, 0, 15, 31), fill=1)  # left half red, right half index 0 = transparent
    p.save(palette_alpha, transparency=0)

    rgba = img / "cutout.png"
    a = np.zeros((20, 20, 4), dtype=np.uint8)
    a[:, :10] = (0, 0, 255, 255)  # left opaque blue, right fully transparent black
    Image.fromarray(a, "RGBA").save(rgba)

    grey = img / "grey.png"
    Image.new("L", (30, 20), 100).save(grey)

    bomb = img / "bomb.png"
    bomb.write_bytes(_png_bomb(30000, 30000))

    return BrokenFiles(root, good, truncated_jpeg, truncated_png, zero_byte, not_an_image, wrong_extension,
                       cmyk_jpeg, png16, palette_alpha, rgba, grey, bomb)
