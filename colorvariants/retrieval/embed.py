"""Embed a catalog with a trained model: batched, sharded, resumable, multi-GPU through Lightning's predict.

Rows are cut into fixed shards (``shard_size`` rows) and each shard into fixed batches, so a shard's bytes do
not depend on when a run was killed: a resumed run skips finished shards and its final output is
byte-identical to an uninterrupted run. Each shard is written atomically under ``OUT/shards/``; the merged
``embeddings.npy`` + ``ids.parquet`` + ``meta.json`` (see ``retrieval.store``) are written last, streamed shard by
shard through ``EmbeddingWriter`` so the export never holds all N x D vectors in RAM; then the shards are removed,
so each vector is stored once. ``meta.json`` and ``shards/plan.json`` record what produced the vectors by content
(``producer_record``): shards are reused only for the very same model weights, catalog and settings.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter
from torch.utils.data import Dataset, Sampler

from colorvariants.data.cache import Crop, ImageCache, OnError
from colorvariants.data.catalog import Catalog
from colorvariants.io import save_npy, write_json
from colorvariants.models.base import EmbeddingModule
from colorvariants.models.checkpoint import load_model
from colorvariants.models.fingerprint import model_fingerprint
from colorvariants.outputs import OutputMismatchError, claim, is_worker_rank, producer_mismatch
from colorvariants.retrieval.store import EMBEDDINGS_FILE, IDS_FILE, META_FILE, EmbeddingSet, EmbeddingWriter

if TYPE_CHECKING:  # Lightning's precision names, for the type checker only (the Trainer checks them at run time)
    from lightning_fabric.connector import _PRECISION_INPUT_STR

SHARD_FORMAT = "shard-{:05d}.npy"
PLAN_FILE = "plan.json"


@dataclass
class EmbedConfig:
    """How to run the export. ``shard_size`` bounds the work lost to a crash and the memory per shard."""

    batch_size: int = 256
    shard_size: int = 8192
    accelerator: str = "auto"
    devices: Any = 1
    strategy: str = "auto"
    precision: _PRECISION_INPUT_STR | None = None  # None: bf16-mixed on CUDA, 32-true on CPU
    cache_dir: str | None = None
    on_error: OnError = "raise"
    crop: Crop = "none"
    progress: bool = True
    overwrite: bool = False  # start clean: remove whatever embedding set or shards the folder holds


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

    def __iter__(self) -> Iterator[int]:
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
    """Embed every (readable) image of ``catalog`` into ``out_dir``; resumes finished shards of the same inputs.

    The folder is claimed as an embedding set (kind marker + lock, ``colorvariants.outputs``). What produced it
    is recorded by content (model hash, catalog fingerprint, image size, crop, batching): a rerun with other
    inputs raises ``OutputMismatchError`` instead of reusing or mixing vectors, unless ``cfg.overwrite``.
    """
    cfg = cfg or EmbedConfig()
    out_dir = Path(out_dir)
    with claim(out_dir, "embeddings"):
        return _embed_claimed(model, catalog, out_dir, cfg)


def producer_record(
    module: EmbeddingModule, catalog: Catalog, cfg: EmbedConfig, stats: np.ndarray | None = None
) -> dict[str, Any]:
    """What an embedding set's vectors depend on, by content (never by a file's path); ``stats``: the
    catalog's ``file_stats()`` when already taken."""
    return {"model": model_fingerprint(module), "method": module.method_name, "catalog": catalog.fingerprint(),
            "files": catalog.files_fingerprint(stats),
            "image_size": int(module.config.image_size), "crop": cfg.crop, "on_error": cfg.on_error,
            "shard_size": cfg.shard_size, "batch_size": cfg.batch_size}


def _check_resumable(out_dir: Path, producer: dict[str, Any], catalog: Catalog) -> bool:
    """Whether ``out_dir`` already holds the finished set of ``producer``; raises when it holds other work."""
    shard_dir = out_dir / "shards"
    meta_path, plan_path = out_dir / META_FILE, shard_dir / PLAN_FILE
    if meta_path.is_file():
        old, what, record = _json_or_none(meta_path), "a finished embedding set", meta_path
    elif plan_path.is_file():
        old, what, record = _json_or_none(plan_path), "unfinished shards", plan_path
    elif any(shard_dir.glob("shard-*.npy")):
        old, what, record = {}, "unfinished shards", None
    else:
        return False
    old_producer = (old or {}).get("producer")
    diffs = producer_mismatch(old_producer, producer)
    if old_producer is not None and record is not None and old_producer.get("files") != producer["files"]:
        diffs = [_files_changed(old_producer, catalog, record) if d.startswith("files:") else d for d in diffs]
    if diffs:
        raise OutputMismatchError(
            f"{out_dir}: holds {what} of other inputs than this run ({'; '.join(diffs)}); reusing them would "
            "mix vectors of different inputs.",
            fix="pass --overwrite to start clean, or choose another --out.",
        )
    return meta_path.is_file()


def _files_changed(old_producer: dict[str, Any], catalog: Catalog, record: Path) -> str:
    """The mismatch entry for changed image files, naming one changed since ``record`` was written if any."""
    if old_producer.get("files") is None:
        return "files: no record of the image files it was made from (an older colorvariants)"
    changed = catalog.file_changed_after(record.stat().st_mtime_ns)
    example = f"e.g. {changed}" if changed is not None else "an image's size or modification time differs"
    return f"images changed since it was made ({example})"


def _json_or_none(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def clear_embedding_set(out_dir: Path) -> None:
    """Remove an embedding set's files and shards (meta.json first, so a kill midway never looks finished)."""
    for name in (META_FILE, EMBEDDINGS_FILE, IDS_FILE):
        (out_dir / name).unlink(missing_ok=True)
    shutil.rmtree(out_dir / "shards", ignore_errors=True)


def _embed_claimed(model: EmbeddingModule | str | Path, catalog: Catalog, out_dir: Path,
                   cfg: EmbedConfig) -> EmbeddingSet:
    shard_dir = out_dir / "shards"
    if isinstance(model, (str, Path)):
        ckpt: str | None = str(model)
        module = load_model(model)
    else:
        ckpt, module = None, model
    size = int(module.config.image_size)
    stats = catalog.file_stats()  # one snapshot for the resume record and the cache it decodes from
    producer = producer_record(module, catalog, cfg, stats)
    if cfg.overwrite and not is_worker_rank():  # DDP ranks re-run this function while rank 0 embeds
        clear_embedding_set(out_dir)
    elif _check_resumable(out_dir, producer, catalog):
        shutil.rmtree(shard_dir, ignore_errors=True)  # a run killed after its merge left the shards behind
        return EmbeddingSet.load(out_dir)
    shard_dir.mkdir(parents=True, exist_ok=True)
    cache = ImageCache.build(catalog, size, cfg.cache_dir, on_error=cfg.on_error, crop=cfg.crop,
                             progress=cfg.progress, stats=stats)
    rows = np.flatnonzero(np.asarray(cache.valid))
    n = len(rows)
    n_shards = (n + cfg.shard_size - 1) // cfg.shard_size
    shard_rows = {s: min((s + 1) * cfg.shard_size, n) - s * cfg.shard_size for s in range(n_shards)}
    write_json(shard_dir / PLAN_FILE, {"producer": producer, "rows": n})
    done = _done_shards(shard_dir, shard_rows, None)
    if done:
        print(f"resuming {out_dir}: {len(done)} of {n_shards} shards already embedded", flush=True)
    todo = sorted(set(shard_rows) - done)
    if todo:
        dataset = _ShardBatches(cache.images, rows, cfg.shard_size, cfg.batch_size, todo)
        loader = torch.utils.data.DataLoader(dataset, batch_size=None, sampler=_ShardSampler(dataset))
        precision: _PRECISION_INPUT_STR = cfg.precision or (
            "bf16-mixed" if torch.cuda.is_available() and cfg.accelerator != "cpu" else "32-true")
        trainer = pl.Trainer(accelerator=cfg.accelerator, devices=cfg.devices, strategy=cfg.strategy,
                             precision=precision, logger=False, enable_checkpointing=False,
                             enable_model_summary=False, enable_progress_bar=cfg.progress,
                             use_distributed_sampler=False,
                             callbacks=[_ShardWriter(shard_dir, shard_rows)])
        trainer.predict(_Embedder(module), dataloaders=loader, return_predictions=False)
        if not trainer.is_global_zero:
            return EmbeddingSet.load(out_dir) if (out_dir / META_FILE).is_file() else None  # type: ignore[return-value]
    missing = sorted(set(shard_rows) - _done_shards(shard_dir, shard_rows, None))
    if missing:
        raise RuntimeError(f"shards {missing[:5]} were not written; rerun the same command to finish them")
    keep = [c for c in ("image_path", "product_id", "style_id", "color", "split", "inshop_status")
            if c in catalog.frame.columns]
    ids = catalog.frame.iloc[rows][keep].reset_index(drop=True)
    meta = {"method": module.method_name, "checkpoint": ckpt, "image_size": size,
            "skipped": [p.to_dict() for p in cache.skipped], "producer": producer}
    if n_shards == 0:
        emb = EmbeddingSet(vectors=np.zeros((0, 0), np.float32), ids=ids, meta=meta)
        emb.save(out_dir)
    else:
        emb = _merge_shards(shard_dir, n_shards, cfg.shard_size, ids, meta, out_dir)
    shutil.rmtree(shard_dir, ignore_errors=True)  # embeddings.npy is now the one copy of every vector
    return emb


def _merge_shards(shard_dir: Path, n_shards: int, shard_size: int, ids: Any, meta: dict[str, Any],
                  out_dir: Path) -> EmbeddingSet:
    """Stream the shards into ``embeddings.npy`` one at a time (RAM holds one shard, never all N x D vectors)."""
    dim = int(np.load(shard_dir / SHARD_FORMAT.format(0), mmap_mode="r").shape[1])
    with EmbeddingWriter(out_dir, count=len(ids), dim=dim, ids=ids, meta=meta) as writer:
        for s in range(n_shards):
            writer.write(s * shard_size, np.load(shard_dir / SHARD_FORMAT.format(s)))
        return writer.close()
