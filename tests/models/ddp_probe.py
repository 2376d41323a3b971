"""Run one method under Lightning DDP (2 CPU processes, gloo) and record what each rank saw.

Launched by tests/models/test_ddp.py as a script (Lightning's DDP launcher re-runs this file for rank 1).
Writes OUT/rank{r}.json: the catalog rows of every training batch per epoch, and the memory-bank pointer and
size after training for MoCo v2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytorch_lightning as pl

from colorvariants.data.catalog import Catalog
from colorvariants.data.datamodule import DataConfig
from colorvariants.models.training import FitConfig, TrainerConfig, fit


class Probe(pl.Callback):
    def __init__(self, out: Path) -> None:
        self.out = out
        self.seen: dict[int, list[int]] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # type: ignore[no-untyped-def]
        self.seen.setdefault(trainer.current_epoch, []).extend(batch["index"].tolist())

    def on_train_end(self, trainer, pl_module) -> None:  # type: ignore[no-untyped-def]
        record = {"rank": trainer.global_rank, "world": trainer.world_size, "seen": self.seen,
                  "steps": trainer.global_step}
        crit = getattr(pl_module, "criterion", None)
        bank = getattr(crit, "memory_bank", None)
        if bank is not None and bank.size[0] > 0:
            record["bank_ptr"] = int(bank.bank_ptr)
            record["bank_size"] = list(bank.bank.shape)
        (self.out / f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


def main() -> None:
    method, manifest, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    catalog = Catalog.load(manifest)
    sampler = "pk" if method == "triplet" else "random"
    cfg = FitConfig(
        method=method,
        model={"memory_bank_size": 64, "memory_bank_max_fraction": None} if method == "mocov2" else {},
        data=DataConfig(image_size=32, batch_size=8, sampler=sampler, pk_p=4, pk_k=2, cache_dir=str(out / "cache")),
        trainer=TrainerConfig(max_epochs=2, accelerator="cpu", devices=2, strategy="ddp", progress_bar=False,
                              threads=1),
    )
    fit(cfg, catalog, out / "run", callbacks=[Probe(out)])


if __name__ == "__main__":
    main()
