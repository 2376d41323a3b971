"""The benchmark: every registered row builds; with ``--preprocess`` every row gets a background-removed twin
on the same test images, and metrics.json and the report show both."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from colorvariants.cli.main import build_parser
from colorvariants.data.catalog import Catalog
from colorvariants.errors import ColorVariantsError
from colorvariants.models.registry import build_method
from colorvariants.report.benchmark import BenchmarkRunner, run_benchmark
from colorvariants.report.benchmark_config import VARIANTS, BenchmarkConfig
from colorvariants.report.catalog_versions import background_removed, parse_preprocess
from colorvariants.report.results import BenchmarkResults

ROWS = ["simclr", "simclr+bg-floodfill", "untrained", "untrained+bg-floodfill", "color_histogram",
        "color_histogram+bg-floodfill"]


@pytest.fixture(scope="module")
def bench(tiny_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench_preprocess")
    cfg = BenchmarkConfig(methods=("simclr",), image_size=32, max_epochs=1, batch_size=16, threads=1,
                          preprocess=("floodfill",), preprocess_workers=1, progress_bar=False,
                          n_gallery_queries=4)
    run_benchmark(Catalog.load(tiny_manifest), out, cfg)
    return out


def _metrics(bench: Path) -> dict[str, Any]:
    return json.loads((bench / "metrics.json").read_text())


def test_every_row_has_a_background_removed_twin(bench: Path) -> None:
    methods = _metrics(bench)["methods"]
    assert list(methods) == ROWS  # twins side by side
    for name, row in methods.items():
        assert row["preprocess"] == ("bg-floodfill" if "+bg-" in name else "none")
        assert row["base"] == name.split("+")[0]
        assert row["reference"] == (row["base"] != "simclr")
        assert 0.0 <= row["recall@1"] <= 1.0
    assert methods["simclr+bg-floodfill"]["epochs"] == 1
    assert (bench / "runs" / "simclr+bg-floodfill" / "model.pt").is_file()


def test_same_test_images_background_removed(bench: Path, tiny_manifest: Path) -> None:
    doc = _metrics(bench)
    prepared = doc["dataset"]["preprocessed"]["bg-floodfill"]
    assert prepared["remove_background"] == "floodfill" and Path(prepared["manifest"]).is_file()
    assert doc["config"]["preprocess"] == ["floodfill"]
    original = Catalog.load(tiny_manifest).split("test").frame
    bg = Catalog.load(prepared["manifest"]).split("test")
    assert bg.frame["source_image_path"].tolist() == original["image_path"].tolist()
    assert bg.frame["product_id"].tolist() == original["product_id"].tolist()
    # The background is painted white where the original was not: the images really differ.
    before = np.asarray(Image.open(tiny_manifest.parent / original["image_path"].iloc[0]).convert("RGB"))
    after = np.asarray(Image.open(bg.path_of(0)).convert("RGB"))
    assert before.shape == after.shape and (after == 255).all(axis=2).mean() > (before == 255).all(axis=2).mean()
    # Ids of the twin's embeddings name the prepared images; its groups name the originals (one report root).
    ids = pd.read_parquet(bench / "embeddings" / "untrained+bg-floodfill" / "ids.parquet")
    assert ids["image_path"].str.startswith("images/").all()
    for csv in (bench / "groups").glob("*+bg-floodfill.csv"):
        assert set(pd.read_csv(csv, dtype=str)["image_path"]) <= set(original["image_path"])


def test_report_pairs_the_rows(bench: Path) -> None:
    results = BenchmarkResults.load(bench)
    assert results.preprocess_pairs() == {base: {"none": base, "bg-floodfill": f"{base}+bg-floodfill"}
                                          for base in ("simclr", "untrained", "color_histogram")}
    assert results.is_reference("untrained+bg-floodfill") and not results.is_reference("simclr+bg-floodfill")
    page = (bench / "report.html").read_text()
    section = page.split('<section id="preprocess">', 1)[1].split("</section>", 1)[0]
    assert "Original vs background removed" in section and "background removed (floodfill)" in section
    assert section.count("<tr") == 4  # header + three rows
    metrics = page.split('<section id="metrics">', 1)[1].split("</section>", 1)[0]
    assert "<th>preprocess</th>" in metrics and metrics.count("background removed (floodfill)") == 3


def test_no_preprocess_section_without_twins(bench: Path, tmp_path: Path) -> None:
    from colorvariants.report.html import build_html

    doc = _metrics(bench)
    doc["methods"] = {k: v for k, v in doc["methods"].items() if "+bg-" not in k}
    (tmp_path / "metrics.json").write_text(json.dumps(doc))
    page = build_html(BenchmarkResults.load(tmp_path))
    metrics = page.split('<section id="metrics">', 1)[1].split("</section>", 1)[0]
    assert 'id="preprocess"' not in page and "<th>preprocess</th>" not in metrics


def test_parse_preprocess() -> None:
    assert parse_preprocess(["floodfill", "grabcut, floodfill"]) == ("floodfill", "grabcut")
    assert parse_preprocess([]) == ()
    with pytest.raises(ColorVariantsError, match="not a background remover.*floodfill"):
        parse_preprocess(["u2net"])


def test_cli_flags_reach_the_config() -> None:
    from colorvariants.cli.commands.benchmark import benchmark_config

    args = build_parser().parse_args(["benchmark", "--manifest", "m.csv", "--out", "o", "--preprocess",
                                      "floodfill,grabcut", "--preprocess", "floodfill", "--preprocess-workers", "1"])
    cfg = benchmark_config(args)
    assert cfg.preprocess == ("floodfill", "grabcut") and cfg.preprocess_workers == 1
    assert benchmark_config(build_parser().parse_args(["benchmark", "--manifest", "m", "--out", "o"])).preprocess == ()


def test_background_removed_resumes_and_checks_the_test_split(tiny_manifest: Path, tmp_path: Path) -> None:
    catalog = Catalog.load(tiny_manifest)
    first = background_removed(catalog, "floodfill", tmp_path, workers=1, progress=False)
    mtime = first.test.path_of(0).stat().st_mtime_ns
    again = background_removed(catalog, "floodfill", tmp_path, workers=1, progress=False)
    assert again.test.path_of(0).stat().st_mtime_ns == mtime  # finished images are reused, not redone
    assert again.row_name("cvssl") == "cvssl+bg-floodfill"


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_registered_row_builds_its_model(name: str, tmp_path: Path) -> None:
    """A row's overrides must name real settings: a typo would only surface minutes into a benchmark."""
    runner = SimpleNamespace(cfg=BenchmarkConfig(image_size=32), cache_dir=tmp_path)
    cfg = BenchmarkRunner.fit_config(runner, name)  # type: ignore[arg-type]
    module = build_method(cfg.method, {**cfg.model, "image_size": 32})
    z = module.embed(torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8))
    assert z.shape[0] == 2 and torch.isfinite(z).all()


def test_batch_size_sets_random_batches_and_pk_rows_keep_their_shape(tmp_path: Path) -> None:
    runner = SimpleNamespace(cfg=BenchmarkConfig(batch_size=32), cache_dir=tmp_path)
    simclr = BenchmarkRunner.fit_config(runner, "simclr")  # type: ignore[arg-type]
    triplet = BenchmarkRunner.fit_config(runner, "triplet")  # type: ignore[arg-type]
    assert simclr.data.sampler == "random" and simclr.data.batch_size == 32
    assert triplet.data.sampler == "pk" and (triplet.data.pk_p, triplet.data.pk_k) == (32, 4)


def test_a_time_budget_alone_sets_no_epoch_cap() -> None:
    """``--max-minutes`` without ``--max-epochs`` must not stop at a default epoch count (issue 11)."""
    from colorvariants.cli.commands.benchmark import benchmark_config

    def parse(*flags: str) -> BenchmarkConfig:
        return benchmark_config(build_parser().parse_args(["benchmark", "--manifest", "m", "--out", "o", *flags]))

    assert parse("--max-minutes", "5").epoch_cap() is None
    assert parse().epoch_cap() == 20
    assert parse("--max-minutes", "5", "--max-epochs", "3").epoch_cap() == 3
    runner = SimpleNamespace(cfg=parse("--max-minutes", "5"), cache_dir="c")
    cfg = BenchmarkRunner.fit_config(runner, "triplet")  # type: ignore[arg-type]
    assert cfg.trainer.max_epochs is None and cfg.trainer.max_minutes == 5


def test_rows_say_which_limit_stopped_them(bench: Path) -> None:
    methods = _metrics(bench)["methods"]
    assert methods["simclr"]["stopped_by"] == "epochs"  # max_epochs=1, no time budget
    assert "stopped by" in (bench / "report.html").read_text()
