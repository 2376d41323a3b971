"""The decoded-image cache: every catalog image decoded once into a memory-mapped uint8 array.

Training reads the same images every epoch; decoding JPEGs each time is what makes typical loaders slow
(see BENCHMARKS.md, "Loader"). ``ImageCache.build`` decodes each image once, letterboxes it to ``size`` x
``size`` on white (aspect kept) and stores it in ``images.npy`` (N, size, size, 3) in catalog row order;
batches are then one fancy index of a memory map.

On disk, under ``cache_dir/images-<fingerprint>-<size>-<crop>[-<extra>]/`` (``key.py``; ``layout.py``):

- ``images.npy`` (and ``masks.npy`` when the catalog has masks): written in place, row by row;
- ``progress.log`` (``journal.py``): one JSON line per finished chunk (rows done, rows skipped with their
  problems), appended and fsynced only after the chunk's pixels are flushed, so a crash loses at most the chunk
  in flight and a rerun decodes only the missing rows;
- ``files.npy``: the size and mtime of each row's image (and mask) file the pixels were decoded from;
- ``valid.npy`` then ``meta.json``, written atomically and last: only a folder with ``meta.json`` is complete.

The key covers the list of image paths and the root (``Catalog.fingerprint``), the size, the crop, and the
mask paths / boxes / crop margin when they are used. ``files.npy`` records the size and mtime of each row's
image and mask file (``Catalog.file_stats``): a build redoes the rows whose file was replaced in place since,
and ``ImageCache.open`` refuses a cache whose files changed.

The package's files: ``key.py`` (which folder), ``layout.py`` (the folder's files and ``meta.json``),
``journal.py`` (build lock and progress journal), ``builder.py`` (decoding), ``image_cache.py`` (``ImageCache``).

>>> cache = ImageCache.build(catalog, 64, on_error="skip")  # doctest: +SKIP
>>> cache.images.shape, int(cache.valid.sum()), len(cache.skipped)  # doctest: +SKIP
((1000, 64, 64, 3), 998, 2)
"""

from __future__ import annotations

from colorvariants.data.boxes import letterbox
from colorvariants.data.cache.image_cache import ImageCache
from colorvariants.data.cache.key import cache_path, default_cache_dir
from colorvariants.data.cache.layout import CACHE_FORMAT, CACHE_VERSION, IncompleteCacheError
from colorvariants.data.choices import CropMode, OnError

Crop = CropMode  # the name this module gave the crop modes before colorvariants.data.choices

__all__ = [
    "CACHE_FORMAT",
    "CACHE_VERSION",
    "Crop",
    "ImageCache",
    "IncompleteCacheError",
    "OnError",
    "cache_path",
    "default_cache_dir",
    "letterbox",
]
