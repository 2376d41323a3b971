"""``embed_catalog``: resume keyed by what produced the vectors (by content, not by path), one copy per vector.

Two models of the same method and dimension written to the same path are told apart by their weights: a rerun
into the same folder refuses instead of handing back (or mixing in) the other model's vectors.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from colorvariants.data.catalog import Catalog
from colorvariants.models.checkpoint import save_model
from colorvariants.models.registry import build_method
from colorvariants.outputs import OutputKindError, OutputMismatchError
from colorvariants.retrieval.embed import EmbedConfig, embed_catalog


def _model(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    save_model(build_method("triplet", {"image_size": 32, "embedding_dim": 16}), path)
    return path


@pytest.fixture(scope="module")
def catalog(tiny_manifest: Path) -> Catalog:
    return Catalog.load(tiny_manifest).split("test")


def _cfg(tmp: Path, **kw: object) -> EmbedConfig:
    return EmbedConfig(batch_size=8, shard_size=16, accelerator="cpu", cache_dir=str(tmp / "cache"),
                       progress=False, **kw)  # type: ignore[arg-type]


def test_a_new_model_at_the_same_path_is_refused_not_reused(catalog: Catalog, tmp_path: Path) -> None:
    ckpt, out = tmp_path / "run" / "model.pt", tmp_path / "emb"
    first = embed_catalog(_model(ckpt, seed=0), catalog, out, _cfg(tmp_path))
    old = np.asarray(first.vectors).copy()
    del first
    _model(ckpt, seed=1)  # retrained into the same run folder: same path, same method, same dimension
    with pytest.raises(OutputMismatchError, match=r"model: sha256:.*--overwrite"):
        embed_catalog(ckpt, catalog, out, _cfg(tmp_path))
    np.testing.assert_array_equal(np.load(out / "embeddings.npy"), old)  # the refused run touched nothing
    new = embed_catalog(ckpt, catalog, out, _cfg(tmp_path, overwrite=True))
    assert new.vectors.shape == old.shape and not np.allclose(np.asarray(new.vectors), old)


def test_an_interrupted_run_is_not_finished_with_another_model(catalog: Catalog, tmp_path: Path) -> None:
    ckpt, out = tmp_path / "model.pt", tmp_path / "emb"
    embed_catalog(_model(ckpt, seed=0), catalog, out, _cfg(tmp_path))
    # the state a kill after the first shard leaves: shard 0 and the plan, no merged set
    shutil.copytree(tmp_path / "emb", tmp_path / "full")
    for name in ("meta.json", "embeddings.npy", "ids.parquet"):
        (out / name).unlink()
    (out / "shards").mkdir()
    vectors = np.load(tmp_path / "full" / "embeddings.npy")
    np.save(out / "shards" / "shard-00000.npy", vectors[:16])
    (out / "shards" / "plan.json").write_text((tmp_path / "full" / "meta.json").read_text())
    _model(ckpt, seed=1)
    with pytest.raises(OutputMismatchError, match=r"unfinished shards of other inputs"):
        embed_catalog(ckpt, catalog, out, _cfg(tmp_path))


def test_rows_embedded_before_a_kill_are_kept_for_the_same_model(catalog: Catalog, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    ckpt, out = _model(tmp_path / "model.pt", seed=0), tmp_path / "emb"
    full = np.asarray(embed_catalog(ckpt, catalog, tmp_path / "clean", _cfg(tmp_path)).vectors).copy()
    moved = tmp_path / "elsewhere.pt"  # same weights at another path: still the same producer
    shutil.copy(ckpt, moved)
    meta = (tmp_path / "clean" / "meta.json").read_text()
    (out / "shards").mkdir(parents=True)
    (out / "shards" / "plan.json").write_text(meta)
    np.save(out / "shards" / "shard-00000.npy", np.zeros((16, full.shape[1]), np.float32) + 0.25)
    got = embed_catalog(moved, catalog, out, _cfg(tmp_path))
    assert "1 of " in capsys.readouterr().out
    kept = np.asarray(got.vectors)[:16]  # the kept shard (renormalised), not redone
    np.testing.assert_allclose(kept, 1 / np.sqrt(full.shape[1]), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(got.vectors)[16:], full[16:])


def test_after_embed_each_vector_is_stored_once_and_a_rerun_is_a_no_op(catalog: Catalog, tmp_path: Path) -> None:
    ckpt, out = _model(tmp_path / "model.pt", seed=0), tmp_path / "emb"
    embed_catalog(ckpt, catalog, out, _cfg(tmp_path))
    arrays = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.npy"))
    assert arrays == ["embeddings.npy"] and not (out / "shards").exists()
    before = (out / "embeddings.npy").stat().st_mtime_ns
    again = embed_catalog(ckpt, catalog, out, _cfg(tmp_path))
    assert again.count == len(catalog) and (out / "embeddings.npy").stat().st_mtime_ns == before


def test_other_settings_are_refused_with_the_difference_named(catalog: Catalog, tmp_path: Path) -> None:
    ckpt, out = _model(tmp_path / "model.pt", seed=0), tmp_path / "emb"
    embed_catalog(ckpt, catalog, out, _cfg(tmp_path))
    with pytest.raises(OutputMismatchError, match=r"crop: none -> bbox"):
        embed_catalog(ckpt, catalog, out, _cfg(tmp_path, crop="bbox"))
    with pytest.raises(OutputMismatchError, match=r"catalog: "):
        embed_catalog(ckpt, catalog.subset(np.arange(10)), out, _cfg(tmp_path))


def test_an_image_replaced_in_place_is_refused_on_resume(tiny_manifest: Path, tmp_path: Path,
                                                          replace_in_place: Callable[[Path], object]) -> None:
    shutil.copytree(tiny_manifest.parent, tmp_path / "catalog")  # the session's images stay untouched
    catalog = Catalog.load(tmp_path / "catalog" / tiny_manifest.name).split("test")
    ckpt, out = _model(tmp_path / "model.pt", seed=0), tmp_path / "emb"
    embed_catalog(ckpt, catalog, tmp_path / "full", _cfg(tmp_path))
    # the state a kill after the first shard leaves: shard 0 and the plan, no merged set
    (out / "shards").mkdir(parents=True)
    np.save(out / "shards" / "shard-00000.npy", np.load(tmp_path / "full" / "embeddings.npy")[:16])
    (out / "shards" / "plan.json").write_text((tmp_path / "full" / "meta.json").read_text())
    replace_in_place(catalog.path_of(20))  # a row of a shard not embedded yet: resuming would mix old and new
    changed = rf"images changed since it was made \(e\.g\. {re.escape(str(catalog.path_of(20)))}\).*--overwrite"
    with pytest.raises(OutputMismatchError, match=rf"unfinished shards of other inputs.*{changed}"):
        embed_catalog(ckpt, catalog, out, _cfg(tmp_path))
    with pytest.raises(OutputMismatchError, match=rf"a finished embedding set of other inputs.*{changed}"):
        embed_catalog(ckpt, catalog, tmp_path / "full", _cfg(tmp_path))
    redone = embed_catalog(ckpt, catalog, out, _cfg(tmp_path, overwrite=True))
    assert redone.count == len(catalog)


def test_embed_refuses_an_index_folder(catalog: Catalog, tmp_path: Path) -> None:
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "meta.json").write_text('{"format": "colorvariants.index", "kind": "flat"}')
    with pytest.raises(OutputKindError, match=r"holds an index .*Fix: pass a new folder as --out"):
        embed_catalog(_model(tmp_path / "model.pt", seed=0), catalog, tmp_path / "index", _cfg(tmp_path))
    assert not (tmp_path / "index" / "embeddings.npy").exists()


def test_a_second_embed_into_a_folder_in_use_is_refused(catalog: Catalog, tmp_path: Path) -> None:
    from colorvariants.outputs import OutputInUseError, claim

    out = tmp_path / "emb"
    with claim(out, "embeddings"):  # another writer holds the folder (a separate lock, as a second process has)
        with pytest.raises(OutputInUseError, match=rf"in use by PID {os.getpid()}"):
            embed_catalog(_model(tmp_path / "model.pt", seed=0), catalog, out, _cfg(tmp_path))
    assert not (out / "shards").exists()
