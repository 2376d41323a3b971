"""``colorvariants benchmark``: train every method under one budget, evaluate on held-out styles, compare.

For each method: fit on the train split (validation on val), embed the test split, evaluate with the protocol
(shared/docs/protocol.md), export colour-variant groups, and keep a few queries' neighbours for the report.
Reference rows that need no training, ``untrained`` and ``color_histogram``, are evaluated the same way.
With ``preprocess`` (background-remover names), every row also runs on the background-removed catalog as
``<row>+bg-<backend>`` (``catalog_versions``), so the report compares original and background-removed images.
The rows it can train and the shared budget are ``report/benchmark_config.py``; the dataset counts and machine
written beside the numbers are ``report/provenance.py``.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from colorvariants.config import apply_overrides, from_dict, to_dict
from colorvariants.data.cache import ImageCache
from colorvariants.data.catalog import Catalog
from colorvariants.data.datamodule import DataConfig
from colorvariants.errors import EmbeddingError
from colorvariants.io import write_json
from colorvariants.models.training import FitConfig, TrainerConfig, fit
from colorvariants.report.benchmark_config import VARIANTS, BenchmarkConfig
from colorvariants.report.catalog_versions import CatalogVersion, background_removed, original_version
from colorvariants.report.choices import METRIC_KEYS, REFERENCE_ROWS, ReferenceRow, is_reference_row
from colorvariants.report.provenance import dataset_summary, machine_description, query_rows
from colorvariants.retrieval.dedup import find_groups
from colorvariants.retrieval.embed import EmbedConfig, embed_catalog
from colorvariants.retrieval.evaluate import evaluate_embeddings
from colorvariants.retrieval.operating_point import OperatingTarget
from colorvariants.retrieval.references import color_histogram, untrained_module
from colorvariants.retrieval.store import EmbeddingSet


def _sample_neighbors(es: EmbeddingSet, queries: np.ndarray, k: int = 5) -> dict[str, Any]:
    """Top-k neighbours (own product excluded, as in the protocol) of a few queries, for the gallery."""
    v = np.asarray(es.vectors, dtype=np.float32)
    products = es.ids["product_id"].to_numpy()
    styles = es.ids["style_id"].to_numpy()
    sims = v[queries] @ v.T
    neighbors, hits = [], []
    for qi, q in enumerate(queries):
        s = sims[qi].copy()
        s[products == products[q]] = -np.inf
        top = np.argsort(-s, kind="stable")[:k]
        neighbors.append(top.tolist())
        hits.append([bool(styles[t] == styles[q]) for t in top])
    return {"neighbors": neighbors, "hits": hits}


class BenchmarkRunner:
    """Runs the rows of a benchmark into ``out_dir`` (see ``run_benchmark``)."""

    def __init__(self, catalog: Catalog, out_dir: str | Path, cfg: BenchmarkConfig) -> None:
        self.cfg = cfg
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        if "split" not in catalog.frame.columns or (catalog.frame["split"] == "").any():
            catalog = catalog.assign_splits(seed=cfg.seed)
        self.catalog = catalog
        self.original = original_version(catalog)
        self.test = self.original.test
        self.versions: list[CatalogVersion] = [self.original]  # + background-removed ones, made in run()
        self.cache_dir = str(self.out / "cache")
        self.results: dict[str, dict[str, Any]] = {}
        self.neighbors: dict[str, Any] = {}
        eligible = query_rows(self.test)
        rng = np.random.default_rng(cfg.seed)
        self.queries = np.sort(rng.choice(eligible, size=min(cfg.n_gallery_queries, len(eligible)), replace=False))

    # -- rows ---------------------------------------------------------------------------------------------
    def fit_config(self, name: str) -> FitConfig:
        variant = VARIANTS[name]
        # batch_size sets the random-sampler rows; the PK rows (triplet) keep their own P x K shape, as
        # semi-hard mining needs many labels per batch (2 CPU minutes: PK 32x4 recall@1 0.395, 8x4 0.240).
        data: dict[str, Any] = {
            "method": variant.method,
            "data": to_dict(DataConfig(image_size=self.cfg.image_size, batch_size=self.cfg.batch_size,
                                       cache_dir=self.cache_dir, seed=self.cfg.seed)),
            "trainer": to_dict(TrainerConfig(max_epochs=self.cfg.epoch_cap(), max_minutes=self.cfg.max_minutes,
                                             seed=self.cfg.seed, threads=self.cfg.threads,
                                             progress_bar=self.cfg.progress_bar, log_every_n_steps=5)),
            "model": {"backbone": self.cfg.backbone},
        }
        data = apply_overrides(data, list(variant.overrides) + list(self.cfg.overrides))
        return from_dict(FitConfig, data)

    def run_method(self, name: str, version: CatalogVersion | None = None) -> dict[str, Any]:
        """Train row ``name`` (a ``VARIANTS`` key) on ``version`` of the catalog (default: the original)."""
        if name not in VARIANTS:
            raise ValueError(f"unknown benchmark method {name!r}; known: {sorted(VARIANTS)} + {list(REFERENCE_ROWS)}")
        version = version or self.original
        row_name = version.row_name(name)
        cfg = self.fit_config(name)
        result = fit(cfg, version.catalog, self.out / "runs" / row_name)
        emb = embed_catalog(result.model_path, version.test, self.out / "embeddings" / row_name,
                            EmbedConfig(cache_dir=self.cache_dir, progress=False, overwrite=True))
        row = self._evaluate(row_name, version.with_source_paths(emb))
        row.update({"train_seconds": round(result.train_seconds, 2), "epochs": result.epochs,
                    "images_per_second": round(result.images_per_second, 2), "stopped_by": result.stopped_by,
                    **({"adjustments": result.adjustments} if result.adjustments else {}), "method": cfg.method,
                    "description": VARIANTS[name].description, "config": to_dict(cfg)})
        return row

    def run_untrained(self, version: CatalogVersion | None = None) -> dict[str, Any]:
        version = version or self.original
        row_name = version.row_name("untrained")
        module = untrained_module(self.cfg.backbone, self.cfg.image_size, seed=self.cfg.seed)
        emb = embed_catalog(module, version.test, self.out / "embeddings" / row_name,
                            EmbedConfig(cache_dir=self.cache_dir, progress=False, overwrite=True))
        row = self._evaluate(row_name, version.with_source_paths(emb))
        row.update({"train_seconds": 0.0, "epochs": 0, "images_per_second": 0.0, "method": "untrained",
                    "description": f"randomly initialised {self.cfg.backbone}, pooled features"})
        return row

    def run_color_histogram(self, version: CatalogVersion | None = None) -> dict[str, Any]:
        version = version or self.original
        row_name, test = version.row_name("color_histogram"), version.test
        cache = ImageCache.build(test, self.cfg.image_size, self.cache_dir, progress=False)
        rows = np.flatnonzero(np.asarray(cache.valid))
        vectors = color_histogram(np.asarray(cache.images)[rows])
        keep = [c for c in ("image_path", "product_id", "style_id", "split") if c in test.frame.columns]
        emb = EmbeddingSet(vectors, test.frame.iloc[rows][keep].reset_index(drop=True),
                           {"method": "color_histogram"})
        emb.save(self.out / "embeddings" / row_name)
        row = self._evaluate(row_name, version.with_source_paths(emb))
        row.update({"train_seconds": 0.0, "epochs": 0, "images_per_second": 0.0, "method": "color_histogram",
                    "description": "joint RGB histogram, 8 bins per channel"})
        return row

    def prepare_versions(self) -> list[CatalogVersion]:
        """The original catalog plus one background-removed copy per ``cfg.preprocess`` backend (made once,
        resumable, under ``DIR/preprocessed/<backend>/``)."""
        self.versions = [self.original] + [
            background_removed(self.catalog, backend, self.out, workers=self.cfg.preprocess_workers,
                               progress=self.cfg.progress_bar)
            for backend in self.cfg.preprocess
        ]
        return self.versions

    def _evaluate(self, name: str, emb: EmbeddingSet) -> dict[str, Any]:
        metrics = evaluate_embeddings(emb)
        self.neighbors[name] = _sample_neighbors(emb, self.queries)
        row: dict[str, Any] = {k: round(float(metrics[k]), 4) for k in METRIC_KEYS}
        row["n_queries"] = int(metrics["n_queries"])
        row["reranked"] = {}
        for spec in self.cfg.rerankers:
            m = evaluate_embeddings(emb, rerank=spec)
            row["reranked"][spec] = {**{k: round(float(m[k]), 4) for k in METRIC_KEYS},
                                     "rerank": m["rerank"], "rerank_s": m["rerank_s"]}
        grouping = {"k": self.cfg.dedup_k, "rerank": self.cfg.dedup_rerank, "method": self.cfg.dedup_method,
                    "guard": self.cfg.dedup_guard}
        try:
            groups = find_groups(emb, target_precision=self.cfg.dedup_precision, **grouping)  # type: ignore[arg-type]
        except EmbeddingError as exc:  # e.g. a colour histogram never reaches the target precision
            row["grouping"] = {"error": str(exc)}
            try:  # the curve still shows what the embeddings can reach
                best = find_groups(emb, target=OperatingTarget(best_f1=True), **grouping)  # type: ignore[arg-type]
                row["grouping"]["curve"] = best.curve.as_dict() if best.curve else None
            except EmbeddingError:
                pass
            return row
        groups.save(self.out / "groups" / f"{name}.csv")
        row["grouping"] = {k: round(float(v), 4) for k, v in (groups.metrics or {}).items()}
        row["grouping"]["threshold"] = round(float(groups.threshold), 4)
        row["grouping"]["groups"] = groups.n_groups
        row["grouping"]["curve"] = groups.curve.as_dict() if groups.curve else None
        return row

    # -- the whole run ------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        started = _dt.datetime.now().isoformat(timespec="seconds")
        t0 = time.perf_counter()
        rows = list(self.cfg.methods) + [r for r in self.cfg.references if r not in self.cfg.methods]
        references: dict[ReferenceRow, Callable[[CatalogVersion], dict[str, Any]]] = {
            "untrained": self.run_untrained, "color_histogram": self.run_color_histogram}
        self.prepare_versions()
        for base in rows:
            for version in self.versions:  # a row's twins side by side: original, then each bg-removed copy
                name = version.row_name(base)
                print(f"[benchmark] {name} ...", flush=True)
                if is_reference_row(base):
                    row = references[base](version)
                else:
                    row = self.run_method(base, version)
                row.update(version.row_fields(base), reference=is_reference_row(base))
                self.results[name] = row
                print(f"[benchmark] {name}: recall@1={row['recall@1']:.3f} map@r={row['map@r']:.3f} "
                      f"epochs={row['epochs']} train={row['train_seconds']:.0f}s "
                      f"stopped by {row.get('stopped_by', '-')}", flush=True)
                self._write(started, time.perf_counter() - t0)  # partial results survive a crash
        return self._write(started, time.perf_counter() - t0)

    def _write(self, started: str, seconds: float) -> dict[str, Any]:
        doc = {
            "methods": self.results,
            "dataset": {**dataset_summary(self.catalog, self.test), "image_size": self.cfg.image_size,
                        **({"preprocessed": {v.preprocess: v.summary() for v in self.versions if not v.is_original}}
                           if len(self.versions) > 1 else {})},
            "config": {**to_dict(self.cfg), "machine": machine_description(), "started": started,
                       "wall_seconds": round(seconds, 1)},
        }
        write_json(self.out / "metrics.json", doc)
        write_json(self.out / "neighbors.json", {"root": str(self.test.root.resolve()), "queries": self.queries.tolist(),
                                                 "methods": self.neighbors})
        return doc


def run_benchmark(catalog: Catalog, out_dir: str | Path, cfg: BenchmarkConfig | None = None,
                  report: bool = True) -> dict[str, Any]:
    """Run the benchmark into ``out_dir``: ``metrics.json``, ``neighbors.json``, runs, embeddings, groups and
    (when ``report``) ``report.html``."""
    runner = BenchmarkRunner(catalog, out_dir, cfg or BenchmarkConfig())
    doc = runner.run()
    if report:
        from colorvariants.report.html import render_report

        render_report(Path(out_dir))
    return doc
