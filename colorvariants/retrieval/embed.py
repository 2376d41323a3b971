"""Embed a catalog with a trained model: batched, sharded, resumable, multi-GPU through Lightning's predict.

Rows are cut into fixed shards (``shard_size`` rows) and each shard into fixed batches, so a shard's bytes do
not depend on when a run was killed: a resumed run skips finished shards and its final output is
byte-identical to an uninterrupted run. Each shard is written atomically under ``OUT/shards/``; the merged
``embeddings.npy`` + ``ids.parquet`` + ``meta.json`` (see ``retrieval.store``) are written last, streamed shard by
shard through ``EmbeddingWriter`` so the export never holds all N x D vectors in RAM.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter
from torch.utils.data import Dataset, Sampler

from colorvariants.data.cache import ImageCache
from colorvariants.data.catalog import Catalog
from colorvariants.io import save_npy, write_json
from colorvariants.models.base import EmbeddingModule
from colorvariants.models.checkpoint import load_model
from colorvariants.retrieval.store import EmbeddingSet, EmbeddingWriter

SHARD_FORMAT = "shard-{:05d}.npy"


@dataclass
class EmbedConfig:
    """How to run the export. ``shard_size`` bounds the work lost to a crash and the memory per shard."""

    batch_size: int = 256
    shard_size: int = 8192
    accelerator: str = "auto"
    devices: Any = 1
    strategy: str = "auto"
    precision: str | None = None  # None: bf16-mixed on CUDA, 32-true on CPU
    cache_dir: str | None = None
    on_error: str = "raise"
    crop: str = "none"
    progress: bool = True


class _ShardBatches(Dataset):
    """Item i is one fixed batch of one shard: ``{"image": uint8 (b,3,H,W), "shard", "offset"}``."""

    def __init__(self, images: np.ndarray, rows: np.ndarray, shard_size: int, batch_size: int,
                 shards: list[int]) -> None:
        self.images, self.rows = images, rows
        self.items: list[tuple[int, int, int]] = []
        for s in shards:
            lo, hi = s * shard_size, min((s + 1) * shard_size, len(rows))
            for b in range(lo, hi, batch_size):
                self.items.append((s, b - lo, min(b + batch_size, hi) - lo))
        self.shard_size = shard_size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        shard, start, stop = self.items[i]
        base = shard * self.shard_size
        idx = self.rows[base + start: base + stop]
        batch = torch.from_numpy(np.ascontiguousarray(self.images[idx])).permute(0, 3, 1, 2).contiguous()
        return {"image": batch, "shard": shard, "offset": start}


class _ShardSampler(Sampler[int]):
    """Whole shards per rank (shard % world == rank), in order, so each rank writes complete shards."""

    def __init__(self, dataset: _ShardBatches) -> None:
        self.dataset = dataset

    def _rank_world(self) -> tuple[int, int]:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return 0, 1

    def __iter__(self):  # type: ignore[no-untyped-def]
        rank, world = self._rank_world()
        return iter([i for i, item in enumerate(self.dataset.items) if item[0] % world == rank])

    def __len__(self) -> int:
        rank, world = self._rank_world()
        return sum(1 for item in self.dataset.items if item[0] % world == rank)


class _Embedder(pl.LightningModule):
    """Wraps a trained method for Lightning's predict loop."""

    def __init__(self, module: EmbeddingModule) -> None:
        super().__init__()
        self.module = module

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        z = self.module.embed(batch["image"])
        return {"z": z.float().cpu().numpy(), "shard": batch["shard"], "offset": batch["offset"]}


class _ShardWriter(BasePredictionWriter):
    """Buffers a shard's batches and writes the shard atomically once all its rows are in."""

    def __init__(self, shard_dir: Path, shard_rows: dict[int, int]) -> None:
        super().__init__(write_interval="batch")
        self.shard_dir = shard_dir
        self.shard_rows = shard_rows
        self.buffers: dict[int, list[tuple[int, np.ndarray]]] = {}

    def write_on_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, prediction: Any,
                           batch_indices: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        shard = int(prediction["shard"])
        buf = self.buffers.setdefault(shard, [])
        buf.append((int(prediction["offset"]), prediction["z"]))
        if sum(len(z) for _, z in buf) == self.shard_rows[shard]:
            vectors = np.concatenate([z for _, z in sorted(buf, key=lambda t: t[0])]).astype(np.float32)
            save_npy(self.shard_dir / SHARD_FORMAT.format(shard), vectors)
            del self.buffers[shard]


def _done_shards(shard_dir: Path, shard_rows: dict[int, int], dim: int | None) -> set[int]:
    """Shards already on disk with the right shape (a partial file never exists: shards are atomic)."""
    done = set()
    for s, n in shard_rows.items():
        path = shard_dir / SHARD_FORMAT.format(s)
        if not path.is_file():
            continue
        try:
            arr = np.load(path, mmap_mode="r")
        except Exception:
            continue
        if arr.shape[0] == n and (dim is None or arr.shape[1] == dim):
            done.add(s)
    return done


def embed_catalog(model: EmbeddingModule | str | Path, catalog: Catalog, out_dir: str | Path,
                  cfg: EmbedConfig | None = None) -> EmbeddingSet:
    """Embed every (readable) image of ``catalog`` into ``out_dir``; resumes finished shards."""
    cfg = cfg or EmbedConfig()
    out_dir = Path(out_dir)
    shard_dir = out_dir / "shards"
    shard_dir.mkdir(parents=True, exist_ok=True)
    ckpt = str(model) if isinstance(model, (str, Path)) else None
    module = load_model(model) if ckpt is not None else model
    size = int(module.config.image_size)
    cache = ImageCache.build(catalog, size, cfg.cache_dir, on_error=cfg.on_error, crop=cfg.crop,
                             progress=cfg.progress)
    rows = np.flatnonzero(np.asarray(cache.valid))
    n = len(rows)
    n_shards = (n + cfg.shard_size - 1) // cfg.shard_size
    shard_rows = {s: min((s + 1) * cfg.shard_size, n) - s * cfg.shard_size for s in range(n_shards)}
    plan = {"rows": n, "shard_size": cfg.shard_size, "batch_size": cfg.batch_size,
            "catalog": catalog.fingerprint(), "checkpoint": ckpt}
    plan_path = out_dir / "shards" / "plan.json"
    if plan_path.is_file() and json.loads(plan_path.read_text()) != plan:
        for old in shard_dir.glob("shard-*.npy"):  # another catalog/model/batching: old shards are stale
            old.unlink()
    write_json(plan_path, plan)
    todo = sorted(set(shard_rows) - _done_shards(shard_dir, shard_rows, None))
    if todo:
        dataset = _ShardBatches(cache.images, rows, cfg.shard_size, cfg.batch_size, todo)
        loader = torch.utils.data.DataLoader(dataset, batch_size=None, sampler=_ShardSampler(dataset))
        precision = cfg.precision or ("bf16-mixed" if torch.cuda.is_available() and cfg.accelerator != "cpu"
                                      else "32-true")
        trainer = pl.Trainer(accelerator=cfg.accelerator, devices=cfg.devices, strategy=cfg.strategy,
                             precision=precision, logger=False, enable_checkpointing=False,
                             enable_model_summary=False, enable_progress_bar=cfg.progress,
                             use_distributed_sampler=False,
                             callbacks=[_ShardWriter(shard_dir, shard_rows)])
        trainer.predict(_Embedder(module), dataloaders=loader, return_predictions=False)
        if not trainer.is_global_zero:
            return EmbeddingSet.load(out_dir) if (out_dir / "meta.json").is_file() else None  # type: ignore[return-value]
    missing = sorted(set(shard_rows) - _done_shards(shard_dir, shard_rows, None))
    if missing:
        raise RuntimeError(f"shards {missing[:5]} were not written; rerun the same command to finish them")
    keep = [c for c in ("image_path", "product_id", "style_id", "color", "split", "inshop_status")
            if c in catalog.frame.columns]
    ids = catalog.frame.iloc[rows][keep].reset_index(drop=True)
    meta = {"method": module.method_name, "checkpoint": ckpt, "image_size": size,
            "skipped": [p.to_dict() for p in cache.skipped]}
    if n_shards == 0:
        emb = EmbeddingSet(vectors=np.zeros((0, 0), np.float32), ids=ids, meta=meta)
        emb.save(out_dir)
        return emb
    return _merge_shards(shard_dir, n_shards, cfg.shard_size, ids, meta, out_dir)


def _merge_shards(shard_dir: Path, n_shards: int, shard_size: int, ids: Any, meta: dict[str, Any],
                  out_dir: Path) -> EmbeddingSet:
    """Stream the shards into ``embeddings.npy`` one at a time (RAM holds one shard, never all N x D vectors)."""
    dim = int(np.load(shard_dir / SHARD_FORMAT.format(0), mmap_mode="r").shape[1])
    with EmbeddingWriter(out_dir, count=len(ids), dim=dim, ids=ids, meta=meta) as writer:
        for s in range(n_shards):
            writer.write(s * shard_size, np.load(shard_dir / SHARD_FORMAT.format(s)))
        return writer.close()
