"""The LightningDataModule every method trains on: batches straight out of the decoded-image cache.

A batch is the dict of ARCHITECTURE.md: ``{"image": uint8 (B,3,H,W), "style": int64 (B,), "product":
int64 (B,), "index": int64 (B,)}`` plus ``"mask": uint8 (B,1,H,W)`` when the catalog has masks. ``style``
and ``product`` are catalog-wide codes (``Catalog.style_labels()``, ``product_labels()``); ``index`` is the
catalog row (position in ``catalog.frame``). The dataset answers a whole batch of indices with one sorted
fancy index of the memory map, so there is no per-image Python work; augmentation happens later, on the
model's device.

Run the Trainer with ``use_distributed_sampler=False``: the batch samplers shard between ranks themselves.

>>> dm = CatalogDataModule(catalog, DataConfig(image_size=64, batch_size=128, sampler="pk"))  # doctest: +SKIP
>>> trainer = pl.Trainer(use_distributed_sampler=False)  # doctest: +SKIP
>>> trainer.fit(model, datamodule=dm)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from colorvariants.data.cache import ImageCache
from colorvariants.data.catalog import Catalog
from colorvariants.data.choices import (
    CROP_MODES,
    ON_ERROR_POLICIES,
    PK_LABELS,
    SAMPLER_NAMES,
    CropMode,
    OnError,
    PKLabel,
    SamplerName,
    check_choice,
)
from colorvariants.data.samplers import PKBatchSampler, RandomBatchSampler, resolve_world
from colorvariants.errors import ManifestError

log = logging.getLogger(__name__)

Batch = dict[str, torch.Tensor]


@dataclass
class DataConfig:
    """How the catalog becomes training and validation batches.

    Attributes:
        image_size: side of the square (letterboxed) images in the cache.
        batch_size: images per batch on each rank (random sampler; the PK sampler uses ``pk_p * pk_k``).
        num_workers: DataLoader worker processes (0 is usually enough: a batch is one memory-map read).
        sampler: ``random`` (shuffled batches) or ``pk`` (``pk_p`` labels x ``pk_k`` images per batch).
        pk_p: labels per PK batch (lowered to the number of labels in the train split when above it).
        pk_k: images per label in a PK batch.
        pk_label: what a PK label is: ``style`` (colour variants share it) or ``product``.
        cache_dir: where the image cache lives; None: ``$COLORVARIANTS_CACHE`` or ``~/.cache/colorvariants``.
        on_error: ``raise`` on the first unreadable image, or ``skip`` it (the row leaves every split).
        crop: ``none``, ``bbox`` (manifest boxes) or ``mask`` (mask foreground box) before resizing.
        seed: seeds the samplers (and the choice of validation styles when capped).
        val_split: the split evaluated during training.
        train_split: the split trained on.
        max_val_images: cap on validation images; whole styles are kept so variants stay findable.
        cache_workers: decoding threads while building the cache.
    """

    image_size: int = 64
    batch_size: int = 128
    num_workers: int = 0
    sampler: SamplerName = "random"
    pk_p: int = 32
    pk_k: int = 4
    pk_label: PKLabel = "style"
    cache_dir: str | None = None
    on_error: OnError = "raise"
    crop: CropMode = "none"
    seed: int = 0
    val_split: str = "val"
    train_split: str = "train"
    max_val_images: int = 2000
    cache_workers: int = 2

    def __post_init__(self) -> None:
        choices = {"sampler": SAMPLER_NAMES, "pk_label": PK_LABELS, "on_error": ON_ERROR_POLICIES, "crop": CROP_MODES}
        for name, allowed in choices.items():
            check_choice(f"DataConfig.{name}", getattr(self, name), allowed)
        for name in ("image_size", "batch_size", "pk_p", "pk_k", "max_val_images"):
            if getattr(self, name) < 1:
                raise ValueError(f"DataConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.num_workers < 0:
            raise ValueError(f"DataConfig.num_workers must be >= 0, got {self.num_workers}")


class CachedBatchDataset(Dataset[Batch]):
    """A map-style dataset whose item is a whole batch: ``dataset[positions]`` -> batch dict.

    ``positions`` index ``rows`` (the catalog rows this dataset covers); the batch keeps the order given. The
    memory maps are opened lazily from the cache folder, so the dataset pickles small (spawned workers reopen
    the maps instead of receiving a copy of the pixels).
    """

    def __init__(
        self,
        cache: ImageCache,
        rows: np.ndarray,
        style: np.ndarray,
        product: np.ndarray,
    ) -> None:
        self.directory: Path = cache.directory
        self.rows = np.asarray(rows, dtype=np.int64)
        self.style = np.asarray(style, dtype=np.int64)
        self.product = np.asarray(product, dtype=np.int64)
        self.has_masks = cache.masks is not None
        self._images: np.ndarray | None = cache.images
        self._masks: np.ndarray | None = cache.masks

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_images"] = state["_masks"] = None
        return state

    def _arrays(self) -> tuple[np.ndarray, np.ndarray | None]:
        if self._images is None:
            cache = ImageCache.open_dir(self.directory)
            self._images, self._masks = cache.images, cache.masks
        return self._images, self._masks

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, positions: Sequence[int] | np.ndarray | int) -> Batch:
        images, masks = self._arrays()
        rows = self.rows[np.atleast_1d(np.asarray(positions, dtype=np.int64))]
        # One read of the memory map in file order (sequential pages), then back to the order asked for.
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        pixels = images[sorted_rows][inverse]
        batch: Batch = {
            "image": torch.from_numpy(np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))),
            "style": torch.from_numpy(self.style[rows]),
            "product": torch.from_numpy(self.product[rows]),
            "index": torch.from_numpy(rows.copy()),
        }
        if self.has_masks and masks is not None:
            batch["mask"] = torch.from_numpy(masks[sorted_rows][inverse][:, None])
        return batch


class OrderedBatchSampler(Sampler[list[int]]):
    """Positions ``0..n-1`` in order, in batches of ``batch_size`` (the last may be smaller); not sharded."""

    def __init__(self, n: int, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.n, self.batch_size = int(n), int(batch_size)

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        for start in range(0, self.n, self.batch_size):
            yield list(range(start, min(start + self.batch_size, self.n)))


class CatalogDataModule(pl.LightningDataModule):
    """Train/val loaders over a catalog's decoded-image cache (see the module docstring for the batch).

    The cache is built in ``prepare_data`` (rank 0) and opened in ``setup`` (every rank; a file lock makes a
    rank that gets there first build it while the others wait). Rows the cache skipped (``on_error="skip"``)
    are left out of every loader. The validation loader is not sharded: every rank sees the whole (capped)
    validation split in a fixed order, so online retrieval metrics need no gathering.

    Args:
        catalog: the whole catalog with a ``split`` column (``Catalog.assign_splits`` makes one).
        config: a ``DataConfig``.
    """

    def __init__(self, catalog: Catalog, config: DataConfig | None = None) -> None:
        super().__init__()
        self.catalog = catalog
        self.config = config or DataConfig()
        self.cache: ImageCache | None = None
        self.style = catalog.style_labels()
        self.product = catalog.product_labels()
        self.train_rows = np.zeros(0, dtype=np.int64)
        self.val_rows = np.zeros(0, dtype=np.int64)

    # -- cache --------------------------------------------------------------------------------------------
    def _build_cache(self, progress: bool = True) -> ImageCache:
        c = self.config
        return ImageCache.build(
            self.catalog, c.image_size, c.cache_dir, on_error=c.on_error,
            crop=c.crop, workers=c.cache_workers, progress=progress,
        )

    def prepare_data(self) -> None:
        """Build (or resume) the image cache; Lightning calls this on one process only."""
        self._build_cache()

    def setup(self, stage: str | None = None) -> None:
        """Open the cache and choose the train and validation rows (valid rows of each split)."""
        if self.cache is None:
            self.cache = self._build_cache()
        frame = self.catalog.frame
        if "split" not in frame.columns or not (frame["split"] != "").any():
            if stage in (None, "fit"):
                raise ManifestError(
                    "the catalog has no 'split' column.", file=self.catalog.source,
                    fix="add one, or call Catalog.assign_splits() / pass --assign-splits to split by style.",
                )
            return  # predicting or testing through ordered_loader needs no split
        split = frame["split"].to_numpy(dtype=object)
        valid = self.cache.valid
        self.train_rows = np.flatnonzero((split == self.config.train_split) & valid)
        if len(self.train_rows) == 0 and stage in (None, "fit"):
            raise ManifestError(
                f"no usable images in the train split {self.config.train_split!r} "
                f"(splits present: {self.catalog.split_names()}, skipped images: {len(self.cache.skipped)}).",
                file=self.catalog.source,
                fix="check the split names (DataConfig.train_split) and the images.",
            )
        self.val_rows = self._cap_val(np.flatnonzero((split == self.config.val_split) & valid))

    def _cap_val(self, rows: np.ndarray) -> np.ndarray:
        """At most ``max_val_images`` rows, taking whole styles in a seeded order (variants stay findable)."""
        if len(rows) <= self.config.max_val_images:
            return rows
        styles = self.style[rows]
        unique = np.unique(styles)
        order = np.random.default_rng(self.config.seed).permutation(len(unique))
        counts = np.bincount(np.searchsorted(unique, styles), minlength=len(unique))
        keep_sorted = order[np.cumsum(counts[order]) <= self.config.max_val_images]
        if len(keep_sorted) == 0:  # one style larger than the cap: keep its first images
            return rows[styles == unique[order[0]]][: self.config.max_val_images]
        return rows[np.isin(styles, unique[keep_sorted])]

    def _require_cache(self) -> ImageCache:
        if self.cache is None:
            self.setup()
        assert self.cache is not None
        return self.cache

    # -- loaders ------------------------------------------------------------------------------------------
    def _loader(self, dataset: CachedBatchDataset, sampler: Sampler[list[int]]) -> DataLoader[Batch]:
        workers = self.config.num_workers
        return DataLoader(
            dataset, batch_size=None, sampler=sampler, num_workers=workers,
            persistent_workers=workers > 0, pin_memory=False,
        )

    def train_sampler(self) -> Sampler[list[int]]:
        """The configured batch sampler over the train rows (positions into ``train_rows``)."""
        c = self.config
        n = len(self.train_rows)
        if c.sampler == "pk":
            labels = (self.style if c.pk_label == "style" else self.product)[self.train_rows]
            n_labels = len(np.unique(labels))
            p = c.pk_p
            if p > n_labels:
                log.warning("pk_p=%d but the train split has %d %ss; using p=%d", p, n_labels, c.pk_label,
                            n_labels)
                p = n_labels
            return PKBatchSampler(labels, p, c.pk_k, seed=c.seed)
        world, _ = resolve_world(None, None)
        batch_size = c.batch_size
        if n < batch_size * world:  # a tiny catalog would otherwise give an epoch of zero batches
            batch_size = max(1, n // world)
            log.warning("train split has %d images for batch_size=%d x %d rank(s); using batch_size=%d",
                        n, c.batch_size, world, batch_size)
        return RandomBatchSampler(n, batch_size, seed=c.seed, drop_last=True)

    def train_dataloader(self) -> DataLoader[Batch]:
        """Shuffled (or PK) batches of the train split; the sampler is resharded and reseeded each epoch."""
        cache = self._require_cache()
        dataset = CachedBatchDataset(cache, self.train_rows, self.style, self.product)
        return self._loader(dataset, self.train_sampler())

    def val_dataloader(self) -> DataLoader[Batch] | list[DataLoader[Batch]]:
        """The validation split in a fixed order (not shuffled, nothing dropped); [] when there is none."""
        cache = self._require_cache()
        if len(self.val_rows) == 0:
            return []
        dataset = CachedBatchDataset(cache, self.val_rows, self.style, self.product)
        return self._loader(dataset, OrderedBatchSampler(len(self.val_rows), self.config.batch_size))

    def ordered_loader(
        self,
        indices: Sequence[int] | np.ndarray | None = None,
        batch_size: int | None = None,
        *,
        split: str | None = None,
    ) -> DataLoader[Batch]:
        """Batches of catalog rows in order, for embedding a whole catalog or one split.

        Args:
            indices: catalog rows (positions in ``catalog.frame``); default every row (or every row of
                ``split``). Invalid (skipped) rows are dropped: align outputs by ``batch["index"]``.
            batch_size: default ``config.batch_size``.
            split: restrict to this split's rows.
        """
        cache = self._require_cache()
        if indices is None:
            rows = np.arange(len(self.catalog), dtype=np.int64)
        else:
            rows = np.asarray(indices, dtype=np.int64)
        if split is not None:
            if "split" not in self.catalog.frame.columns:
                raise ManifestError(
                    "the catalog has no 'split' column.", file=self.catalog.source,
                    fix="call Catalog.assign_splits() first, or pass indices instead of split.",
                )
            in_split = self.catalog.frame["split"].to_numpy(dtype=object)[rows] == split
            rows = rows[in_split]
        rows = rows[cache.valid[rows]]
        dataset = CachedBatchDataset(cache, rows, self.style, self.product)
        return self._loader(dataset, OrderedBatchSampler(len(rows), batch_size or self.config.batch_size))
