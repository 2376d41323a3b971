"""The daily job from the command line: fit -> embed -> index -> evaluate -> dedup -> query -> export-onnx.

Also: a SIGKILLed ``embed`` resumes and its final files are byte-identical to an uninterrupted run's, and
``evaluate``'s numbers equal an exact brute-force computation of the protocol.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from colorvariants.data.catalog import Catalog
from colorvariants.metrics.retrieval import exact_protocol_metrics
from colorvariants.retrieval.store import EmbeddingSet

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
Cli = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def trained(tiny_manifest: Path, tmp_path_factory: pytest.TempPathFactory, cli: Cli) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("pipeline")
    cli("fit", "--config", str(ROOT / "configs" / "triplet.yaml"), "--manifest", str(tiny_manifest),
        "--out", str(tmp / "run"), "--max-epochs", "1", "--image-size", "32", "--batch-size", "16",
        "--cache-dir", str(tmp / "cache"), "data.pk_p=4", "data.pk_k=4", "trainer.progress_bar=false")
    return {"tmp": tmp, "model": tmp / "run" / "model.pt", "manifest": tiny_manifest}


def test_embed_index_evaluate_dedup_query_onnx(trained: dict[str, Path], cli: Cli) -> None:
    tmp, model, manifest = trained["tmp"], trained["model"], trained["manifest"]
    emb_dir, index_dir = tmp / "emb", tmp / "index"
    cli("embed", "--ckpt", str(model), "--manifest", str(manifest), "--out", str(emb_dir),
        "--cache-dir", str(tmp / "cache"))
    ids = pd.read_parquet(emb_dir / "ids.parquet")
    vectors = np.load(emb_dir / "embeddings.npy")
    catalog = Catalog.load(manifest)
    assert vectors.dtype == np.float32 and vectors.shape[0] == len(catalog) == len(ids)
    assert ids["image_path"].tolist() == catalog.frame["image_path"].tolist()  # same row order as the manifest
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)

    built = cli("index", "build", "--embeddings", str(emb_dir), "--out", str(index_dir), "--kind", "auto")
    assert "recall@10" in built.stdout.lower() or "fidelity" in built.stdout.lower()

    cli("evaluate", "--embeddings", str(emb_dir), "--manifest", str(manifest), "--split", "test",
        "--out", str(tmp / "metrics.json"))
    metrics = json.loads((tmp / "metrics.json").read_text())
    test = catalog.split("test")
    rows = ids.index[ids["split"] == "test"].to_numpy()
    exact = exact_protocol_metrics(vectors[rows], test.style_labels(), test.product_labels())
    for key in ("recall@1", "recall@5", "recall@10", "recall@20", "map@r"):
        assert metrics[key] == pytest.approx(exact[key], abs=1e-6), key

    cli("dedup", "--embeddings", str(emb_dir), "--index", str(index_dir), "--out", str(tmp / "groups.csv"),
        "--threshold", "0.9")
    groups = pd.read_csv(tmp / "groups.csv")
    assert {"group_id", "product_id", "image_path"} <= set(groups.columns) and len(groups) == len(ids)

    image = manifest.parent / catalog.frame.at[0, "image_path"]
    out = cli("query", "--index", str(index_dir), "--ckpt", str(model), "--image", str(image), "-k", "3",
              "--out", str(tmp / "q.csv"))
    q = pd.read_csv(tmp / "q.csv")
    assert len(q) == 3 and q.loc[0, "image_path"] == catalog.frame.at[0, "image_path"]  # finds itself first
    assert q.loc[0, "similarity"] == pytest.approx(1.0, abs=1e-3)
    assert catalog.frame.at[0, "product_id"] in out.stdout
    cli("query", "--index", str(index_dir), "--ckpt", str(model), "--image", str(image), "-k", "3",
        "--rerank", "csls", "--embeddings", str(emb_dir), "--out", str(tmp / "q_csls.csv"))
    q = pd.read_csv(tmp / "q_csls.csv")  # re-ranked on the catalog's kNN graph: still itself first
    assert len(q) == 3 and q.loc[0, "image_path"] == catalog.frame.at[0, "image_path"]

    onnx_out = cli("export-onnx", "--ckpt", str(model), "--out", str(tmp / "model.onnx"))
    assert "max |diff|" in onnx_out.stdout and (tmp / "model.onnx").stat().st_size > 1000


@pytest.mark.faults
def test_killed_embed_resumes_byte_identical(
    trained: dict[str, Path], cli: Cli, kill_cli: Callable[..., bool]
) -> None:
    tmp, model, manifest = trained["tmp"], trained["model"], trained["manifest"]
    args = ["--ckpt", str(model), "--manifest", str(manifest), "--cache-dir", str(tmp / "cache"),
            "--shard-size", "8", "--batch-size", "4"]
    cli("embed", *args, "--out", str(tmp / "clean"))

    out = tmp / "killed"
    for _ in range(3):  # a finished run removes its shards, so a run that wins the race is simply tried again
        shutil.rmtree(out, ignore_errors=True)
        if kill_cli(["embed", *args, "--out", str(out)],
                    lambda: len(list((out / "shards").glob("shard-*.npy"))) >= 2):
            break
    else:
        pytest.fail("embed finished before the kill point three times")
    assert not (out / "meta.json").exists(), "a killed run must not look complete"
    done_before = len(list((out / "shards").glob("shard-*.npy")))
    resumed = cli("embed", *args, "--out", str(out))
    assert f"{done_before} of " in resumed.stdout, "finished shards must not be redone"
    assert not (out / "shards").exists(), "after the merge embeddings.npy is the one copy of every vector"
    for f in ("embeddings.npy", "ids.parquet"):
        assert (out / f).read_bytes() == (tmp / "clean" / f).read_bytes(), f
    assert EmbeddingSet.load(out).count == EmbeddingSet.load(tmp / "clean").count
    shutil.rmtree(out)
