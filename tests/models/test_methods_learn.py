"""Each method learns on a small synthetic catalog: its loss falls; CV-SSL retrieves colour variants of held-out
styles better than the same network untrained; the supervised triplet model ranks
images of the styles it trained on better (AUC 0.590 -> 0.689 on Intel Xeon, 2026-11-27; the bar is +0.05).

Why triplet is not judged on held-out styles here: at this test's scale (56 training styles, 90 steps at 32 px)
supervised triplet does not yet generalise past an untrained network: its held-out mAP@R wandered between 0.015
and 0.044 around the untrained 0.036 over 30 epochs (Intel Xeon, 2026-11-27), so a held-out assertion was a coin
flip that failed on some CPUs. Its held-out win is measured where it holds, in the 300-style benchmark
(BENCHMARKS.md "Method quality"). simclr / mocov2 with lightly's colour jitter are not required to beat untrained:
they learn colour, which is the seed paper's finding."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from colorvariants.data.cache import ImageCache
from colorvariants.data.catalog import Catalog
from colorvariants.data.datamodule import DataConfig
from colorvariants.metrics.retrieval import exact_protocol_metrics
from colorvariants.models.registry import build_method
from colorvariants.models.training import FitConfig, TrainerConfig, fit

pytestmark = pytest.mark.slow
SIZE = 32
EPOCHS = {"triplet": 16, "simclr": 4, "mocov2": 8, "cvssl": 10}


def _heldout_recall(module: torch.nn.Module, catalog: Catalog, cache_dir: Path) -> float:
    """recall@1 over the val and test styles together (~24 styles: less noisy than the 8-style val split)."""
    val = catalog.subset(catalog.frame["split"].isin(["val", "test"]))
    cache = ImageCache.build(val, SIZE, cache_dir, progress=False)
    images = torch.from_numpy(np.array(cache.images)).permute(0, 3, 1, 2)
    emb = torch.cat([module.embed(images[i:i + 128]) for i in range(0, len(images), 128)])
    return float(exact_protocol_metrics(emb.numpy(), val.style_labels(), val.product_labels())["recall@1"])


def _train_style_auc(module: torch.nn.Module, catalog: Catalog, cache_dir: Path) -> float:
    """How often an image of a training style is more similar to another image of its style than to an image of
    another style (mean over anchors of that ranking's AUC; 0.5 is chance), on un-augmented images: the ordering
    triplet training optimises, measured on every triplet rather than the mined ones."""
    train = catalog.subset(catalog.frame["split"] == "train")
    cache = ImageCache.build(train, SIZE, cache_dir, progress=False)
    images = torch.from_numpy(np.array(cache.images)).permute(0, 3, 1, 2)
    emb = torch.cat([module.embed(images[i:i + 128]) for i in range(0, len(images), 128)]).float()
    sims, styles = (emb @ emb.T).numpy(), np.asarray(train.style_labels())
    aucs = []
    for a in range(len(styles)):
        same = styles == styles[a]
        same[a] = False
        pos, neg = sims[a, same], sims[a, styles != styles[a]]
        if len(pos) and len(neg):
            aucs.append(float((pos[:, None] > neg[None, :]).mean()))
    return float(np.mean(aucs))


def _epoch_losses(run_dir: Path) -> list[float]:
    log = pd.read_csv(run_dir / "logs" / "metrics.csv")
    return log.dropna(subset=["train/loss_epoch"]).sort_values("epoch")["train/loss_epoch"].tolist()


@pytest.mark.parametrize("method", ["triplet", "cvssl", "simclr", "mocov2"])
def test_method_learns(method: str, small_manifest: Path, tmp_path: Path) -> None:
    catalog = Catalog.load(small_manifest)
    data = DataConfig(image_size=SIZE, batch_size=32, cache_dir=str(tmp_path / "cache"),
                      sampler="pk" if method == "triplet" else "random", pk_p=8, pk_k=4)
    cfg = FitConfig(method=method, model={"memory_bank_size": 128} if method == "mocov2" else {}, data=data,
                    trainer=TrainerConfig(max_epochs=EPOCHS[method], progress_bar=False, seed=0))
    torch.manual_seed(0)
    untrained = build_method(method, {**cfg.model, "image_size": SIZE})
    before = _heldout_recall(untrained, catalog, tmp_path / "cache")
    auc_before = _train_style_auc(untrained, catalog, tmp_path / "cache") if method == "triplet" else math.nan

    result = fit(cfg, catalog, tmp_path / "run")
    losses = _epoch_losses(tmp_path / "run")
    assert len(losses) == EPOCHS[method]
    # MoCo's bank starts as random vectors (easy negatives): its loss rises until the bank holds real keys
    # (128 keys = 4 batches; a bank smaller than an epoch holds no second copy of the current image), so its fall is measured from the first epoch with a full bank.
    start = 1 if method == "mocov2" else 0
    assert min(losses[-2:]) < losses[start], f"{method} loss did not fall: {losses}"
    assert "val/recall@1" in result.val_metrics
    from colorvariants.models.checkpoint import load_model

    trained = load_model(result.model_path)
    if method == "cvssl":
        after = _heldout_recall(trained, catalog, tmp_path / "cache")
        assert after > before, f"{method}: held-out recall@1 {after:.3f} not above untrained {before:.3f}"
    if method == "triplet":
        auc = _train_style_auc(trained, catalog, tmp_path / "cache")
        assert auc > auc_before + 0.05, f"triplet: training-style ranking AUC {auc:.3f}, untrained {auc_before:.3f}"
