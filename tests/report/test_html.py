"""The HTML report: built from a small fake benchmark directory, checked as text and in headless Chromium."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from colorvariants.cli.main import main
from colorvariants.data.catalog import Catalog
from colorvariants.data.synth import SynthConfig, write_synthetic_catalog
from colorvariants.io import write_json
from colorvariants.report.html import render_report
from colorvariants.report.results import BenchmarkReadError, BenchmarkResults, read_epoch_curves
from colorvariants.retrieval.evaluate import evaluate_embeddings
from colorvariants.retrieval.store import EmbeddingSet

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TRAINED = {"cvssl": 0.9, "simclr": 1.2, "triplet": 1.6}  # method -> noise around its style centre
REFERENCES = ("untrained", "color_histogram")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CSV_COLUMNS = ["epoch", "step", "train/loss_epoch", "train/loss_step", "val/recall@1"]


def _write_metrics_csv(path: Path, epochs: int, seed: int) -> None:
    """A Lightning CSVLogger-like log: sparse rows (step rows, epoch-end rows, validation rows)."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, float]] = []
    step = 0
    for epoch in range(epochs):
        losses = []
        for _ in range(3):
            loss = 2.0 / (1 + epoch) + rng.uniform(0, 0.1)
            losses.append(loss)
            rows.append({"epoch": epoch, "step": step, "train/loss_step": loss})
            step += 1
        rows.append({"epoch": epoch, "step": step - 1, "val/recall@1": 0.3 + 0.1 * epoch + 0.05 * seed})
        rows.append({"epoch": epoch, "step": step - 1, "train/loss_epoch": float(np.mean(losses))})
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=CSV_COLUMNS).to_csv(path, index=False)


def _neighbors(vectors: np.ndarray, product: np.ndarray, style: np.ndarray,
               queries: np.ndarray) -> tuple[list[list[int]], list[list[bool]]]:
    """Top-5 gallery neighbours per query (own product excluded) and whether each shares the query's style."""
    sims = vectors[queries] @ vectors.T
    sims[product[None, :] == product[queries][:, None]] = -np.inf
    top = np.argsort(-sims, axis=1, kind="stable")[:, :5]
    return top.tolist(), (style[top] == style[queries][:, None]).tolist()


def _groups(name: str, ids: pd.DataFrame, style: np.ndarray,
            rng: np.random.Generator) -> pd.DataFrame | None:
    """cvssl groups by style but wrongly merges styles 0 and 1; simclr is random, without style_id."""
    sims = np.round(rng.uniform(0.5, 1.0, len(ids)), 4)
    base = {"product_id": ids["product_id"], "image_path": ids["image_path"], "similarity_to_medoid": sims}
    if name == "cvssl":
        return pd.DataFrame({"group_id": np.where(style == 1, 0, style), **base, "style_id": ids["style_id"]})
    if name == "simclr":
        return pd.DataFrame({"group_id": rng.integers(0, 8, len(ids)), **base})
    return None


CURVE: dict[str, Any] = {
    "method": "components+both on cosine", "criterion": "pair precision >= 0.9, most recall", "chosen": 1,
    "points": [{"threshold": t, "pair_precision": p, "pair_recall": r, "pair_f1": 2 * p * r / (p + r),
                "product_precision": p, "product_recall": r, "n_groups": 10}
               for t, p, r in ((0.95, 1.0, 0.01), (0.83, 0.91, 0.4), (0.7, 0.6, 0.7))],
    "recall_at_precision": {"0.9": 0.4, "0.85": 0.4, "0.7": 0.4, "0.5": 0.7},
}


def _method_row(name: str, i: int, metrics: dict[str, Any]) -> dict[str, Any]:
    trained = name in TRAINED
    grouping: dict[str, Any] = {}
    if name == "cvssl":
        grouping = {"pairwise_precision": 0.91, "pairwise_recall": 0.4, "ari": 0.52, "threshold": 0.8312,
                    "curve": CURVE}
    elif name == "untrained":
        grouping = {"error": "no similarity threshold reaches <0.9>", "curve": {**CURVE, "chosen": None}}
    return {
        **{k: metrics[k] for k in ("recall@1", "recall@5", "recall@10", "recall@20", "map@r")},
        "train_seconds": 30.0 * (i + 1) if trained else 0.0,
        "epochs": 3 if trained else 0,
        "images_per_second": 200.0 / (i + 1) if trained else 0.0,
        "config": {"method": name, "model": {"backbone": "resnet18", "temperature": 0.2}} if trained else {},
        "description": f"the {name} row",
        "grouping": grouping,
        **({"reranked": {"csls:k=10": {**{k: metrics[k] for k in ("recall@1", "recall@5", "recall@10",
                                                                  "recall@20", "map@r")}, "rerank_s": 0.12}}}
           if name == "cvssl" else {}),
    }


def make_bench_dir(root: Path) -> Path:
    """A benchmark directory with run_benchmark's layout, built from a tiny synthetic catalog."""
    config = SynthConfig(styles=12, size=64, masks=False, fractions={"train": 0.5, "test": 0.5})
    catalog = Catalog.load(write_synthetic_catalog(root / "catalog", config, progress=False))
    test = catalog.split("test")
    ids = test.frame[["image_path", "product_id", "style_id", "split"]].reset_index(drop=True)
    style, product = test.style_labels(), test.product_labels()
    n_products = np.bincount(np.unique(np.stack([style, product], 1), axis=0)[:, 0])
    queries = np.flatnonzero(n_products[style] >= 2)
    bench = root / "bench"
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((style.max() + 1, 32))
    methods, neighbors = {}, {}
    for i, name in enumerate([*TRAINED, *REFERENCES]):
        noise = rng.standard_normal((len(ids), 32))
        vectors = centres[style] + TRAINED[name] * noise if name in TRAINED else noise
        es = EmbeddingSet(vectors.astype(np.float32), ids, {"method": name})
        es.save(bench / "embeddings" / name)
        methods[name] = _method_row(name, i, evaluate_embeddings(es))
        nb, hits = _neighbors(es.unit_vectors(), product, style, queries)
        neighbors[name] = {"neighbors": nb, "hits": hits}
        if name in TRAINED:
            _write_metrics_csv(bench / "runs" / name / "logs" / "metrics.csv", epochs=3, seed=i)
        frame = _groups(name, ids, style, rng)
        if frame is not None:
            (bench / "groups").mkdir(parents=True, exist_ok=True)
            frame.sort_values("group_id").to_csv(bench / "groups" / f"{name}.csv", index=False)
    write_json(bench / "neighbors.json",
               {"root": str(catalog.root), "queries": queries.tolist(), "methods": neighbors})
    dataset = {"styles": 12, "products": int(catalog.frame["product_id"].nunique()), "images": len(catalog),
               "train_images": len(catalog) - len(ids), "test_images": len(ids), "queries": int(queries.size),
               "image_size": 64}
    config_row = {"machine": "test box (2 CPU)", "started": "2025-01-02T03:04:05", "epochs": 3}
    write_json(bench / "metrics.json", {"methods": methods, "dataset": dataset, "config": config_row})
    return bench


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bench_dir(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def report(bench: Path) -> str:
    return render_report(bench).read_text()


def _metrics(bench: Path) -> dict[str, Any]:
    return json.loads((bench / "metrics.json").read_text())["methods"]


def _section(page: str, key: str) -> str:
    match = re.search(rf'<section id="{key}">.*?</section>', page, re.S)
    assert match, f"no section {key}"
    return match.group(0)


def _row(table: str, method: str) -> str:
    """The metrics-table row whose header cell names ``method``."""
    rows = re.findall(r"<tr class=\"(?:trained|ref)\">.*?</tr>", table, re.S)
    found = [r for r in rows if re.search(r"</span>" + re.escape(method) + r"[ <]", r)]
    assert len(found) == 1, f"expected one table row for {method}, found {len(found)}"
    return found[0]


def _group_block(groups: str, method: str) -> str:
    blocks = [b for b in groups.split('<div class="gblock">') if f"</span>{method}</h3>" in b]
    assert len(blocks) == 1, f"expected one group block for {method}"
    return blocks[0]


class TestReportContent:
    def test_is_self_contained(self, report: str) -> None:
        assert not re.search(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", report, re.I)
        assert "http://" not in report and "https://" not in report
        for needle in ("<script", "<link", "@import", "<iframe"):
            assert needle not in report.lower()

    def test_embeds_every_image_as_jpeg(self, report: str) -> None:
        uris = re.findall(r'<img src="(data:[^"]+)"', report)
        assert len(uris) >= 8 * (1 + 5 * 5)  # 8 queries, each with 5 neighbours for 5 methods
        assert all(u.startswith("data:image/jpeg;base64,") for u in uris)
        image = Image.open(io.BytesIO(base64.b64decode(uris[0].split(",", 1)[1])))
        assert image.format == "JPEG" and min(image.size) >= 56
        assert len(set(uris)) > 10  # real pictures, not one placeholder repeated

    def test_headline_names_winner_and_margin(self, report: str, bench: Path) -> None:
        metrics = _metrics(bench)
        ranked = sorted(metrics, key=lambda m: -metrics[m]["recall@1"])
        assert ranked[0] == "cvssl"
        headline = re.search(r'<p class="headline">(.*?)</p>', report).group(1)
        gap = (metrics[ranked[0]]["recall@1"] - metrics[ranked[1]]["recall@1"]) * 100
        assert "<b>cvssl</b>" in headline and f"{gap:.1f} points" in headline and ranked[1] in headline
        assert f"{metrics['cvssl']['recall@1'] * 100:.1f}%" in headline

    def test_table_marks_best_and_reference_rows(self, report: str, bench: Path) -> None:
        metrics = _metrics(bench)
        table = re.search(r'<table class="metrics">.*?</table>', report, re.S).group(0)
        cvssl = _row(table, "cvssl")
        assert cvssl.count('class="num best"') >= 1 and "★" in cvssl and "the cvssl row" in cvssl
        assert f"{metrics['cvssl']['recall@1'] * 100:.1f}%" in cvssl
        assert cvssl.count("30.0 s") == 1  # the shortest train time
        for ref in REFERENCES:
            row = _row(table, ref)
            assert row.startswith('<tr class="ref">') and "reference" in row
            cells = re.findall(r'<td class="([^"]*)"', row)
            # not best at R@1, never "fastest"; the last cell says which limit stopped training ("–" here)
            assert cells[0] == "num" and cells[-3:] == ["num", "num", "small wrap"]
        order = re.findall(r'<th scope="row"><span class="swatch"[^>]*></span>([\w+]+)', table)
        assert order[:3] == sorted(TRAINED, key=lambda m: -metrics[m]["recall@1"])
        assert set(order[3:]) == set(REFERENCES)

    def test_plots_every_method(self, report: str, bench: Path) -> None:
        recall = _section(report, "curves")
        for name in _metrics(bench):
            assert f'data-name="{name}"' in recall
        assert "validation recall@1 during training" in recall
        training = _section(report, "training")
        assert training.count("<svg") == len(TRAINED)
        assert all(f"{name}: training loss" in training for name in TRAINED)
        assert "untrained: training loss" not in training

    def test_gallery_marks_hits_and_misses(self, bench: Path, tmp_path: Path) -> None:
        data = json.loads((bench / "neighbors.json").read_text())
        page = render_report(bench, tmp_path / "all.html", gallery_queries=10_000).read_text()
        gallery = _section(page, "gallery")
        flags = [h for m in data["methods"].values() for row in m["hits"] for h in row]
        assert gallery.count('class="tile hit"') == sum(flags) > 0
        assert gallery.count('class="tile miss"') == len(flags) - sum(flags) > 0
        assert gallery.count('class="qcard"') == len(data["queries"])

    def test_groups_most_products_first_with_wrong_merges_marked(self, report: str) -> None:
        groups = _section(report, "groups")
        cvssl = _group_block(groups, "cvssl")
        sizes = [(int(p), int(i)) for i, p in re.findall(r"<span>(\d+) images</span><br><span>(\d+) product",
                                                         cvssl)]
        assert sizes == sorted(sizes, reverse=True) and len(sizes) == 4  # most products first, then images
        # The merged group holds two styles: its off-style images carry a red frame.
        assert "2 styles" in cvssl and 'class="tile sm miss"' in cvssl
        assert "similarity threshold 0.831 · pair precision 91.0% · pair recall 40.0% · ARI 0.520" in cvssl
        # simclr's CSV has no style_id: styles are joined from the id table, so wrong merges still show.
        assert 'class="tile sm miss"' in _group_block(groups, "simclr")
        untrained = _group_block(groups, "untrained")
        assert "no groups exported: no similarity threshold reaches &lt;0.9&gt;" in untrained

    def test_grouping_curve_with_chosen_point_and_reranked_rows(self, report: str) -> None:
        groups = _section(report, "groups")
        for method in ("cvssl", "untrained"):  # a method whose target failed still shows what it can reach
            block = _group_block(groups, method)
            assert "grouping trade-off (components+both on cosine)" in block
            assert "precision 0.9: recall 40.0%" in block and "pair precision" in block
        block = _group_block(groups, "cvssl")
        assert 'data-name="chosen point"' in block and "chosen (pair precision &gt;= 0.9, most recall)" in block
        table = _section(report, "metrics")
        assert re.search(r"cvssl re-ranked: csls:k=10</th>.*?\+0\.12s re-rank", table, re.S)

    def test_dataset_and_settings(self, report: str) -> None:
        section = _section(report, "dataset")
        assert "test box (2 CPU)" in section and "test images" in section and "<details>" in section


class TestHeadline:
    @staticmethod
    def _headline(tmp_path: Path, recalls: dict[str, float]) -> str:
        methods = {name: {"recall@1": r, "train_seconds": 0.0 if name in REFERENCES else 10.0,
                          "epochs": 0 if name in REFERENCES else 1} for name, r in recalls.items()}
        write_json(tmp_path / "metrics.json", {"methods": methods, "dataset": {}, "config": {}})
        page = render_report(tmp_path).read_text()
        return re.search(r'<p class="headline">(.*?)</p><p class="sub">(.*?)</p>', page).group(0)

    def test_tie_is_called_a_tie(self, tmp_path: Path) -> None:
        text = self._headline(tmp_path, {"cvssl": 0.5, "simclr": 0.5, "untrained": 0.1})
        assert "tied with simclr" in text and "points ahead" not in text

    def test_a_winning_reference_is_flagged(self, tmp_path: Path) -> None:
        text = self._headline(tmp_path, {"cvssl": 0.2, "color_histogram": 0.3})
        assert "<b>color_histogram</b>" in text and "+10.0 points" in text
        assert "no trained method beats it" in text


class TestReading:
    def test_epoch_curves_from_sparse_rows(self, tmp_path: Path) -> None:
        path = tmp_path / "metrics.csv"
        _write_metrics_csv(path, epochs=3, seed=0)
        curves = read_epoch_curves(path)
        expected = pd.read_csv(path).dropna(subset=["train/loss_epoch"])["train/loss_epoch"].tolist()
        assert [e for e, _ in curves.loss] == [0, 1, 2]
        assert [v for _, v in curves.loss] == pytest.approx(expected)
        assert [v for _, v in curves.val_recall] == pytest.approx([0.3, 0.4, 0.5])  # seed 0: no offset

    def test_epoch_loss_falls_back_to_step_mean(self, tmp_path: Path) -> None:
        path = tmp_path / "metrics.csv"
        pd.DataFrame({"epoch": [0, 0, 1, 1], "step": [0, 1, 2, 3],
                      "train/loss_step": [4.0, 2.0, 1.0, 0.5]}).to_csv(path, index=False)
        assert read_epoch_curves(path).loss == [(0, 3.0), (1, 0.75)]

    def test_missing_metrics_is_a_clear_error(self, tmp_path: Path) -> None:
        with pytest.raises(BenchmarkReadError, match="metrics.json"):
            BenchmarkResults.load(tmp_path)

    def test_metrics_only_still_renders(self, bench: Path, tmp_path: Path) -> None:
        shutil.copy(bench / "metrics.json", tmp_path / "metrics.json")
        page = render_report(tmp_path).read_text()
        assert '<table class="metrics">' in page and "<b>cvssl</b>" in page
        assert "No neighbour sample to show" in page and "No exported groups" in page
        assert "<img" not in page

    def test_relative_image_root_is_found_above_the_bench_dir(self, bench: Path, tmp_path: Path) -> None:
        shutil.copytree(bench, tmp_path / "out" / "bench")
        shutil.copytree(bench.parent / "catalog", tmp_path / "out" / "catalog")
        data = json.loads((tmp_path / "out" / "bench" / "neighbors.json").read_text())
        data["root"] = "out/catalog"  # as written by a benchmark run from tmp_path
        write_json(tmp_path / "out" / "bench" / "neighbors.json", data)
        results = BenchmarkResults.load(tmp_path / "out" / "bench")
        assert results.image_root is not None and results.test_ids is not None
        assert (results.image_root / results.test_ids.at[0, "image_path"]).is_file()

    def test_unreadable_images_become_placeholders(self, bench: Path, tmp_path: Path) -> None:
        copy = tmp_path / "bench"
        shutil.copytree(bench, copy)
        data = json.loads((copy / "neighbors.json").read_text())
        data["root"] = str(tmp_path / "nowhere")
        write_json(copy / "neighbors.json", data)
        page = render_report(copy).read_text()
        assert "could not be read and show as grey tiles" in page
        assert len(set(re.findall(r'<img src="(data:[^"]+)"', page))) <= 3  # one placeholder per tile size


def test_cli_writes_report(bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r" / "report.html"
    assert main(["report", "--bench", str(bench), "--out", str(out), "--gallery-queries", "2"]) == 0
    assert out.is_file() and str(out) in capsys.readouterr().out
    assert out.read_text().count('class="qcard"') == 2


def test_cli_reports_missing_bench_without_traceback(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--bench", str(tmp_path)]) == 2
    assert "metrics.json" in capsys.readouterr().err


def _chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def test_renders_in_headless_chromium(bench: Path, tmp_path: Path) -> None:
    binary = _chromium()
    if binary is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium; `make install` tries it as root)")
    page = render_report(bench, tmp_path / "report.html")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
           "--window-size=1400,3000", page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 3000)
    pixels = np.asarray(image)
    non_white = (pixels < 240).any(axis=2).mean()
    colours = len(np.unique(pixels.reshape(-1, 3)[::7], axis=0))
    assert non_white > 0.05, f"screenshot is nearly blank ({non_white:.1%} non-white pixels)"
    assert colours > 500, f"only {colours} distinct colours in the screenshot: pictures and plots are missing"
    # The gallery's green and red frames (hits and misses) must be visible somewhere on the page.
    r, g, b = (pixels[..., i].astype(int) for i in range(3))
    assert ((g - r > 60) & (g - b > 40)).sum() > 200 and ((r - g > 80) & (r - b > 60)).sum() > 200
