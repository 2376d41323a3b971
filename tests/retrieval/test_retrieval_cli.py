"""End to end through the CLI: index build/add, evaluate, dedup on a small random embedding set."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from colorvariants.cli.main import main
from colorvariants.retrieval.evaluate import evaluate_embeddings
from colorvariants.retrieval.index import load_index
from colorvariants.retrieval.store import EmbeddingSet

Factory = Callable[..., EmbeddingSet]


@pytest.fixture
def saved_sets(tmp_path: Path, clustered_set: Factory) -> tuple[Path, Path, EmbeddingSet]:
    es = clustered_set(n_styles=40, style_noise=0.6, image_noise=0.4, seed=3)
    es.ids["split"] = np.where(es.ids["style_id"].astype(int) < 30, "test", "val")
    es.save(tmp_path / "E")
    extra = clustered_set(n_styles=5, seed=4)
    extra.ids["image_path"] = "new/" + extra.ids["image_path"]
    extra.save(tmp_path / "E2")
    return tmp_path / "E", tmp_path / "E2", es


def test_index_build_then_add(saved_sets: tuple[Path, Path, EmbeddingSet], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    e, e2, es = saved_sets
    argv = ["index", "build", "--embeddings", str(e), "--out", str(tmp_path / "I"), "--memory-budget", "1GB"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "kind: flat" in out and "fidelity: recall@10 vs exact search = 1.0000" in out and "build:" in out
    assert load_index(tmp_path / "I").count == es.count

    assert main(["index", "add", "--index", str(tmp_path / "I"), "--embeddings", str(e2)]) == 0
    assert f"{es.count} -> {es.count + 30}" in capsys.readouterr().out
    grown = load_index(tmp_path / "I")
    assert grown.count == es.count + 30 and grown.ids["image_path"].iloc[-1].startswith("new/")


def test_index_build_kind_and_budget(saved_sets: tuple[Path, Path, EmbeddingSet], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    e, _, _ = saved_sets
    assert main(["index", "build", "--embeddings", str(e), "--out", str(tmp_path / "I"), "--kind", "hnsw",
                 "--target-recall", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "kind: hnsw" in out and "efSearch=" in out
    assert load_index(tmp_path / "I").meta["fidelity"]["target"] == 0.9


def test_evaluate_writes_protocol_metrics(saved_sets: tuple[Path, Path, EmbeddingSet], tmp_path: Path
                                          ) -> None:
    e, _, es = saved_sets
    assert main(["evaluate", "--embeddings", str(e), "--split", "test", "--out", str(tmp_path / "m.json")]
                ) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    for key in ("recall@1", "recall@5", "recall@10", "recall@20", "map@r"):
        assert 0.0 <= metrics[key] <= 1.0
    direct = evaluate_embeddings(EmbeddingSet.load(e), split="test")
    assert metrics["recall@1"] == direct["recall@1"] and metrics["n_queries"] == direct["n_queries"] == 180
    assert metrics["embeddings"]["method"] == "synthetic"


def test_evaluate_streams_under_a_small_memory_budget(saved_sets: tuple[Path, Path, EmbeddingSet], tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    e, _, _ = saved_sets
    with caplog.at_level("INFO"):
        assert main(["evaluate", "--embeddings", str(e), "--memory-budget", "1KB", "--out", str(tmp_path / "s.json")]
                    ) == 0
    assert "streaming" in caplog.text
    streamed = json.loads((tmp_path / "s.json").read_text())
    direct = evaluate_embeddings(EmbeddingSet.load(e))
    assert {k: streamed[k] for k in direct} == direct
    assert main(["evaluate", "--embeddings", str(e), "--memory-budget", "lots", "--out", str(tmp_path / "x.json")]
                ) == 2  # the tool's one-line error (checked in test_user_errors_are_one_line_messages)


def test_evaluate_with_manifest_labels(saved_sets: tuple[Path, Path, EmbeddingSet], tmp_path: Path) -> None:
    _, _, es = saved_sets
    EmbeddingSet(es.vectors, es.ids[["image_path", "product_id"]]).save(tmp_path / "bare")
    es.ids.to_csv(tmp_path / "manifest.csv", index=False)
    argv = ["evaluate", "--embeddings", str(tmp_path / "bare"), "--manifest", str(tmp_path / "manifest.csv"),
            "--split", "val", "--out", str(tmp_path / "m.json")]
    assert main(argv) == 0
    assert json.loads((tmp_path / "m.json").read_text())["n_queries"] == 60


def test_dedup_with_index_and_calibration(saved_sets: tuple[Path, Path, EmbeddingSet], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    e, _, es = saved_sets
    main(["index", "build", "--embeddings", str(e), "--out", str(tmp_path / "I")])
    capsys.readouterr()
    argv = ["dedup", "--embeddings", str(e), "--index", str(tmp_path / "I"),
            "--out", str(tmp_path / "g.parquet"), "--target-precision", "0.9", "--k", "5",
            "--summary", str(tmp_path / "s.json")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "chosen for pair precision >= 0.9" in out and "trade-off" in out and "metrics:" in out
    groups = pd.read_parquet(tmp_path / "g.parquet")
    assert len(groups) == es.count and set(groups["image_path"]) == set(es.ids["image_path"])
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["calibration"]["precision"] >= 0.9 and summary["params"]["k"] == 5


def test_dedup_with_fixed_threshold_to_csv(saved_sets: tuple[Path, Path, EmbeddingSet], tmp_path: Path
                                           ) -> None:
    e, _, es = saved_sets
    assert main(["dedup", "--embeddings", str(e), "--out", str(tmp_path / "g.csv"), "--threshold", "0.99",
                 "--guard", "mutual"]) == 0
    groups = pd.read_csv(tmp_path / "g.csv")
    assert len(groups) == es.count and groups["group_products"].max() <= 3


@pytest.mark.parametrize(
    "argv",
    [
        ["index", "build", "--embeddings", "{tmp}/missing", "--out", "{tmp}/I"],
        ["evaluate", "--embeddings", "{tmp}/E", "--split", "train", "--out", "{tmp}/m.json"],
        ["index", "add", "--index", "{tmp}/E", "--embeddings", "{tmp}/E2"],
        ["index", "build", "--embeddings", "{tmp}/E", "--out", "{tmp}/E"],  # an embedding set is not an index
        ["evaluate", "--embeddings", "{tmp}/E", "--memory-budget", "lots", "--out", "{tmp}/m.json"],
        ["evaluate", "--embeddings", "{tmp}/E", "--ks", "1,five", "--out", "{tmp}/m.json"],
        ["dedup", "--embeddings", "{tmp}/E", "--index", "{tmp}/I-lying", "--out", "{tmp}/g.csv"],
    ],
)
def test_user_errors_are_one_line_messages(saved_sets: tuple[Path, Path, EmbeddingSet], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    if "{tmp}/I-lying" in argv:  # an index whose meta.json names another kind than its FAISS file
        assert main(["index", "build", "--embeddings", str(tmp_path / "E"), "--out", str(tmp_path / "I-lying"),
                     "--kind", "flat"]) == 0
        meta = json.loads((tmp_path / "I-lying" / "meta.json").read_text())
        (tmp_path / "I-lying" / "meta.json").write_text(json.dumps({**meta, "kind": "ivfpq"}))
        capsys.readouterr()
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Fix:" in err and "Traceback" not in err and err.count("\n") == 1


def test_dedup_operating_point_and_rerank(saved_sets: tuple[Path, Path, EmbeddingSet], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    e, _, _ = saved_sets
    argv = ["dedup", "--embeddings", str(e), "--out", str(tmp_path / "g.csv"), "--best-f1", "--rerank", "csls",
            "--method", "average", "--summary", str(tmp_path / "s.json")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "chosen for best pair F1" in out and "at pair precision 0.9" in out and "rerank: csls:k=10" in out
    summary = json.loads((tmp_path / "s.json").read_text())
    curve = summary["curve"]
    chosen = curve["points"][curve["chosen"]]
    assert chosen["threshold"] == summary["threshold"] and chosen["pair_f1"] == curve["best_f1"]["pair_f1"]
    assert summary["params"]["method"] == "average" and summary["params"]["rerank"] == "csls:k=10"


def test_dedup_unreachable_target_says_what_it_can_reach(saved_sets: tuple[Path, Path, EmbeddingSet],
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    e, _, _ = saved_sets
    argv = ["dedup", "--embeddings", str(e), "--out", str(tmp_path / "g.csv"), "--target-recall", "1.0",
            "--k", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no threshold groups 1 of the variant pairs" in err and "at pair precision 0.9" in err


def test_evaluate_rerank_flag(saved_sets: tuple[Path, Path, EmbeddingSet], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    e, _, _ = saved_sets
    argv = ["evaluate", "--embeddings", str(e), "--rerank", "dba:n=1", "--out", str(tmp_path / "m.json")]
    assert main(argv) == 0
    assert "re-ranked by dba:n=1,alpha=0.0" in capsys.readouterr().out
    assert json.loads((tmp_path / "m.json").read_text())["rerank"] == "dba:n=1,alpha=0.0"


def test_dedup_cli_choices_match_the_registries() -> None:
    from colorvariants.cli.commands import dedup as dedup_cli
    from colorvariants.retrieval.linkage import LINKAGES
    from colorvariants.retrieval.rerank import make_reranker

    assert set(dedup_cli.LINKAGE_CHOICES) == set(LINKAGES) and dedup_cli.DEFAULT_METHOD in LINKAGES
    assert make_reranker(dedup_cli.DEFAULT_RERANK) is not None


def test_dedup_given_threshold_stays_cosine(saved_sets: tuple[Path, Path, EmbeddingSet], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    e, _, _ = saved_sets
    assert main(["dedup", "--embeddings", str(e), "--out", str(tmp_path / "g.csv"), "--threshold", "0.99"]) == 0
    assert "rerank: none" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["dedup", "evaluate"])
def test_unknown_rerank_is_a_usage_error(saved_sets: tuple[Path, Path, EmbeddingSet], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str], command: str) -> None:
    e, _, _ = saved_sets
    with pytest.raises(SystemExit) as exit_:
        main([command, "--embeddings", str(e), "--out", str(tmp_path / "x.json"), "--rerank", "csls:q=1"])
    assert exit_.value.code == 2 and "no setting 'q'" in capsys.readouterr().err
