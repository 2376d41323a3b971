"""Tests for colorvariants.data.datamodule: the batch contract of ARCHITECTURE.md, splits, skips, fit."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from colorvariants.data.cache import ImageCache
from colorvariants.data.datamodule import CachedBatchDataset, CatalogDataModule, DataConfig
from colorvariants.data.samplers import PKBatchSampler, RandomBatchSampler
from colorvariants.errors import ManifestError


def _dm(catalog, tmp_path, **kwargs) -> CatalogDataModule:
    cfg = DataConfig(**{"image_size": 16, "batch_size": 4, "cache_dir": str(tmp_path / "cache"), **kwargs})
    dm = CatalogDataModule(catalog, cfg)
    dm.prepare_data()
    dm.setup("fit")
    return dm


class TestBatchContract:
    def test_train_batch_dict(self, make_catalog, tmp_path):
        cat = make_catalog().load()
        dm = _dm(cat, tmp_path)
        batches = list(dm.train_dataloader())
        assert len(batches) == 2  # 8 train images, batch 4
        b = batches[0]
        assert set(b) == {"image", "style", "product", "index"}
        assert b["image"].dtype == torch.uint8 and b["image"].shape == (4, 3, 16, 16)
        assert b["image"].is_contiguous()
        for key in ("style", "product", "index"):
            assert b[key].dtype == torch.int64 and b[key].shape == (4,)
        idx = b["index"].numpy()
        assert (cat.frame.loc[idx, "split"] == "train").all()
        assert np.array_equal(b["style"].numpy(), cat.style_labels()[idx])  # catalog-wide codes
        assert np.array_equal(b["product"].numpy(), cat.product_labels()[idx])
        cache = ImageCache.open(cat, 16, tmp_path / "cache")
        assert np.array_equal(b["image"].permute(0, 2, 3, 1).numpy(), cache.images[idx])  # sampler order kept
        seen = np.concatenate([x["index"].numpy() for x in batches])
        assert sorted(seen.tolist()) == np.flatnonzero(cat.frame["split"] == "train").tolist()

    def test_masks_in_batch(self, make_catalog, tmp_path):
        dm = _dm(make_catalog(masks=True).load(), tmp_path)
        b = next(iter(dm.train_dataloader()))
        assert b["mask"].dtype == torch.uint8 and b["mask"].shape == (4, 1, 16, 16)
        assert set(torch.unique(b["mask"]).tolist()) <= {0, 255}

    def test_val_fixed_order_nothing_dropped(self, make_catalog, tmp_path):
        cat = make_catalog(n_styles=8).load()  # val: styles 2 and 6 -> 8 images
        dm = _dm(cat, tmp_path, batch_size=3)
        first = [b["index"].tolist() for b in dm.val_dataloader()]
        assert first == [b["index"].tolist() for b in dm.val_dataloader()]
        flat = sum(first, [])
        assert flat == sorted(flat) == np.flatnonzero(cat.frame["split"] == "val").tolist()
        assert [len(b) for b in first] == [3, 3, 2]

    def test_val_capped_by_whole_styles(self, make_catalog, tmp_path):
        cat = make_catalog(n_styles=12).load()  # val: 3 styles x 4 images
        dm = _dm(cat, tmp_path, max_val_images=9)
        styles = cat.style_ids[dm.val_rows]
        assert len(dm.val_rows) == 8 and len(set(styles)) == 2
        all_val_styles = cat.style_ids[np.flatnonzero(cat.frame["split"] == "val")]
        assert all((all_val_styles == s).sum() == 4 for s in styles)  # every image of a kept style

    def test_no_val_split_gives_empty_list(self, make_catalog, tmp_path):
        dm = _dm(make_catalog(splits=("train", "test")).load(), tmp_path)
        assert dm.val_dataloader() == []

    def test_skipped_rows_excluded(self, make_catalog, tmp_path):
        cat = make_catalog().load()
        cat.path_of(0).write_bytes(b"")
        with pytest.raises(Exception, match="row 1"):
            _dm(cat, tmp_path)
        dm = _dm(cat, tmp_path, on_error="skip")
        assert 0 not in dm.train_rows and len(dm.train_rows) == 7
        seen = {i for b in dm.train_dataloader() for i in b["index"].tolist()}
        assert 0 not in seen
        assert 0 not in {i for b in dm.ordered_loader() for i in b["index"].tolist()}

    def test_missing_split_column(self, make_catalog, tmp_path):
        cat = make_catalog(splits=None).load()
        with pytest.raises(ManifestError, match="split"):
            _dm(cat, tmp_path)
        dm = CatalogDataModule(cat, DataConfig(image_size=16, cache_dir=str(tmp_path / "c")))
        dm.setup("predict")
        assert len(list(dm.ordered_loader(batch_size=5))) == 4


class TestSamplersAndLoaders:
    def test_pk_sampler(self, make_catalog, tmp_path):
        cat = make_catalog(n_styles=8, products_per_style=2, images_per_product=2).load()
        dm = _dm(cat, tmp_path, sampler="pk", pk_p=3, pk_k=2)
        sampler = dm.train_dataloader().sampler
        assert isinstance(sampler, PKBatchSampler) and sampler.p == 3  # 4 train styles >= 3
        for b in dm.train_dataloader():
            styles = b["style"].tolist()
            assert len(styles) == 6 and len(set(styles)) == 3
            assert all(styles.count(s) == 2 for s in set(styles))
        dm_big_p = _dm(cat, tmp_path, sampler="pk", pk_p=32, pk_k=2)
        assert dm_big_p.train_dataloader().sampler.p == 4  # lowered to the labels present

    def test_tiny_train_split_still_yields(self, make_catalog, tmp_path):
        dm = _dm(make_catalog().load(), tmp_path, batch_size=128)
        sampler = dm.train_dataloader().sampler
        assert isinstance(sampler, RandomBatchSampler) and len(sampler) == 1 and sampler.batch_size == 8

    def test_ordered_loader(self, make_catalog, tmp_path):
        cat = make_catalog().load()
        dm = _dm(cat, tmp_path)
        got = [i for b in dm.ordered_loader(batch_size=5) for i in b["index"].tolist()]
        assert got == list(range(16))
        test_rows = [i for b in dm.ordered_loader(split="test") for i in b["index"].tolist()]
        assert test_rows == np.flatnonzero(cat.frame["split"] == "test").tolist()

    def test_dataset_pickles_without_pixels(self, make_catalog, tmp_path):
        cat = make_catalog().load()
        dm = _dm(cat, tmp_path)
        ds = CachedBatchDataset(dm.cache, dm.train_rows, dm.style, dm.product)
        blob = pickle.dumps(ds)
        assert len(blob) < 10_000
        clone = pickle.loads(blob)
        assert torch.equal(clone[[0, 1]]["image"], ds[[0, 1]]["image"])

    def test_worker_processes(self, make_catalog, tmp_path):
        dm = _dm(make_catalog().load(), tmp_path, num_workers=1)
        loader = dm.train_dataloader()
        assert sum(len(b["index"]) for b in loader) == 8

    def test_config_validation(self):
        with pytest.raises(ValueError, match="sampler"):
            DataConfig(sampler="balanced")
        with pytest.raises(ValueError, match="crop"):
            DataConfig(crop="face")
        with pytest.raises(ValueError, match="batch_size"):
            DataConfig(batch_size=0)


class _Probe(pl.LightningModule):
    """A minimal model that records what the Trainer feeds it."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(3, 1)
        self.train_indices: list[list[int]] = []
        self.val_count = 0

    def training_step(self, batch, batch_idx):
        self.train_indices.append(batch["index"].tolist())
        x = batch["image"].float().mean(dim=(2, 3)) / 255
        return self.layer(x).mean()

    def validation_step(self, batch, batch_idx):
        self.val_count += len(batch["index"])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_lightning_fit_reshuffles_each_epoch(make_catalog, tmp_path):
    cat = make_catalog().load()
    dm = CatalogDataModule(cat, DataConfig(image_size=16, batch_size=4, cache_dir=str(tmp_path / "cache")))
    model = _Probe()
    trainer = pl.Trainer(
        max_epochs=2, accelerator="cpu", devices=1, use_distributed_sampler=False, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, default_root_dir=str(tmp_path),
    )
    trainer.fit(model, datamodule=dm)
    assert len(model.train_indices) == 4
    assert model.train_indices[:2] != model.train_indices[2:]  # set_epoch reached the sampler
    assert sorted(sum(model.train_indices[:2], [])) == sorted(sum(model.train_indices[2:], []))
    assert model.val_count == 2 * 4
