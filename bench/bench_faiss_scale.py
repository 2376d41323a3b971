"""FAISS at catalog scale: build time, QPS, recall@10 of ``flat`` vs the ``auto`` choice; dedup wall time.

Data: ``--n`` random-but-clustered unit vectors, generated deterministically from ``--seed``: ``--clusters``
centres (``n / clusters`` members each, gaussian noise of norm ``--noise``), themselves drawn around
``--parents`` parent centres (``--parent-spread`` apart), as a catalog has families of similar designs.
``--parents 0`` puts the cluster centres uniformly on the sphere instead: then every vector's neighbours past
its own cluster are far, nearly tied random points, the worst case for approximate search. Each cluster is one
style and each vector its own product, so dedup can calibrate its threshold on the labels.

Measured:
- ``flat`` (exact) and ``auto`` at each ``--budgets`` value: build seconds (train + add), tuning seconds
  (nprobe/efSearch to ``--target-recall`` plus the fidelity sample), QPS of one batched search of
  ``--queries`` collection vectors at k=11 (10 neighbours + the query itself), recall@10 of those neighbours
  (the query itself dropped, as in the build's fidelity) against the flat (exact) results;
- dedup (``ColorVariantGroups``: kNN k=10 through the first auto index, calibrated threshold, guard ``both``):
  wall time per step and the grouping metrics against the cluster labels.

Run (what BENCHMARKS.md records)::

    OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/bench_faiss_scale.py \
        --n 1000000 --out bench/out/faiss_scale_1m.json

``OMP_WAIT_POLICY=PASSIVE``: on a machine shared with other jobs, OpenMP threads spinning at barriers make
faiss slower than one thread (measured: a 2000 x 200k flat search took 4.2 s spinning, 2.3 s passive, 0.9 s
on one thread, at load average ~7 on 2 cores).

Quick check: ``--n 20000 --clusters 2000 --queries 1000``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np
import pandas as pd

from colorvariants.io import write_json
from colorvariants.report.provenance import cpu_name
from colorvariants.retrieval.dedup import ColorVariantGroups
from colorvariants.retrieval.index import IndexBundle, build_index
from colorvariants.retrieval.index.auto import drop_self
from colorvariants.retrieval.store import EmbeddingSet

GENERATE_ROWS = 100_000  # rows generated per step: bounds the temporary noise array


@dataclass(frozen=True)
class Row:
    """One measured index configuration (a line of the BENCHMARKS.md table)."""

    label: str
    kind: str
    params: str
    memory_mb: float
    build_s: float
    tune_s: float
    qps: float
    recall_at_10: float
    fidelity_at_10: float

    def markdown(self) -> str:
        return (
            f"| {self.label} | {self.kind} | {self.params} | {self.memory_mb:,.0f} | {self.build_s:.1f} | "
            f"{self.tune_s:.1f} | {self.qps:,.0f} | {self.recall_at_10:.4f} | {self.fidelity_at_10:.4f} |"
        )


def clustered_set(
    n: int, d: int, clusters: int, noise: float, seed: int, parents: int = 0, parent_spread: float = 0.8
) -> EmbeddingSet:
    """Deterministic clustered unit vectors with style (= cluster) and product (= row) ids."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    if parents > 0:  # clusters scattered around parent centres: sibling clusters are near each other
        tops = rng.standard_normal((parents, d), dtype=np.float32)
        tops /= np.linalg.norm(tops, axis=1, keepdims=True)
        centres = tops[np.arange(clusters) % parents] + np.float32(parent_spread) * centres
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = np.arange(n) % clusters
    x = np.empty((n, d), dtype=np.float32)
    scale = np.float32(noise / np.sqrt(d))  # |noise| ~ noise: within-cluster cosine ~ 1 / (1 + noise^2)
    for start in range(0, n, GENERATE_ROWS):
        stop = min(n, start + GENERATE_ROWS)
        block = centres[labels[start:stop]] + scale * rng.standard_normal((stop - start, d), dtype=np.float32)
        x[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    ids = pd.DataFrame({
        "image_path": [f"img/{i:07d}.jpg" for i in range(n)],
        "product_id": [f"p{i:07d}" for i in range(n)],
        "style_id": [f"s{c:06d}" for c in labels],
    })
    es = EmbeddingSet(x, ids, {"method": "synthetic-clusters"})
    es.validate()
    return es


def timed_search(
    bundle: IndexBundle, queries: np.ndarray, q_rows: np.ndarray, k: int = 10
) -> tuple[np.ndarray, float]:
    """Top-k neighbours (the query's own row dropped) of one batched search of k + 1, and its QPS."""
    t0 = time.perf_counter()
    _, rows = bundle.search(queries, k + 1, normalized=True, batch_rows=len(queries))
    qps = len(queries) / (time.perf_counter() - t0)
    return drop_self(rows, q_rows, k), qps


def recall_against(rows: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each exact top-k row that the approximate top-k also holds."""
    hits = (rows[:, :, None] == exact[:, None, :]).any(axis=1)
    return float(hits.mean())


def measure(
    label: str, bundle: IndexBundle, queries: np.ndarray, q_rows: np.ndarray, exact: np.ndarray | None
) -> tuple[Row, np.ndarray]:
    """Search the queries once, print and return the table row (and the neighbours, for the exact kind)."""
    rows, qps = timed_search(bundle, queries, q_rows)
    meta = bundle.meta
    params = ", ".join(f"{k}={v}" for k, v in {**meta["params"], **meta["search_params"]}.items()) or "exact"
    row = Row(
        label=label,
        kind=meta["kind"],
        params=params,
        memory_mb=meta["memory_bytes_estimate"] / 1e6,
        build_s=meta["build_seconds"],
        tune_s=meta["tune_seconds"],
        qps=qps,
        recall_at_10=1.0 if exact is None else recall_against(rows, exact),
        fidelity_at_10=meta["fidelity"]["recall@10"],
    )
    print(row.markdown(), flush=True)
    return row, rows


def machine() -> dict[str, Any]:
    """What the numbers were measured on (the machine is shared: the load average says how busy it was)."""
    try:
        import psutil

        ram_gb = round(psutil.virtual_memory().total / 1e9, 1)
    except Exception:
        ram_gb = None
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "omp_threads": faiss.omp_get_max_threads(),
        "faiss": faiss.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "gpus_faiss": faiss.get_num_gpus(),
        "load_avg_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=128)
    p.add_argument("--clusters", type=int, default=None, help="default n / 10")
    p.add_argument("--noise", type=float, default=0.6, help="norm of the per-vector gaussian noise")
    p.add_argument("--parents", type=int, default=None, help="parent centres (default clusters/10; 0: none)")
    p.add_argument("--parent-spread", type=float, default=0.8,
                   help="norm of a cluster's offset from its parent")
    p.add_argument("--queries", type=int, default=10_000)
    p.add_argument("--budgets", default="4GB,200MB",
                   help="memory budgets for the auto choice, comma-separated")
    p.add_argument("--target-recall", type=float, default=0.95)
    p.add_argument("--no-dedup", action="store_true")
    p.add_argument("--dedup-rerank", default="none",
                   help="similarity dedup groups on: none (cosine, as before) or a re-ranker spec, e.g. csls")
    p.add_argument("--dedup-method", default="components", help="components, average or complete")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="JSON with every figure (default: print only)")
    args = p.parse_args(argv)
    clusters = args.clusters or max(1, args.n // 10)
    parents = max(1, clusters // 10) if args.parents is None else args.parents

    info = machine()
    print(json.dumps(info), flush=True)
    t0 = time.perf_counter()
    es = clustered_set(args.n, args.d, clusters, args.noise, args.seed, parents, args.parent_spread)
    gen_s = time.perf_counter() - t0
    print(f"generated {args.n} x {args.d} in {gen_s:.1f}s ({clusters} clusters, {parents} parents)",
          flush=True)
    rng = np.random.default_rng(args.seed + 1)
    q_rows = np.sort(rng.choice(args.n, size=min(args.queries, args.n), replace=False))
    queries = np.ascontiguousarray(es.vectors[q_rows])

    header = ("| config | kind | params | est. memory MB | build s | tune s | QPS (k=11) "
              "| recall@10 vs exact "
              "| fidelity@10 (build sample) |\n|---|---|---|---|---|---|---|---|---|")
    print(header, flush=True)
    flat = build_index(es, kind="flat", fidelity_queries=200, seed=args.seed)
    flat_row, exact = measure("flat", flat, queries, q_rows, None)
    del flat
    rows = [flat_row]
    first_auto: IndexBundle | None = None
    for budget in [b.strip() for b in args.budgets.split(",") if b.strip()]:
        bundle = build_index(
            es, kind="auto", memory_budget=budget, target_recall=args.target_recall, seed=args.seed
        )
        row, _ = measure(f"auto, budget {budget}", bundle, queries, q_rows, exact)
        rows.append(row)
        if first_auto is None:
            first_auto = bundle
        else:
            del bundle

    dedup: dict[str, Any] | None = None
    if not args.no_dedup and first_auto is not None:
        t1 = time.perf_counter()
        result = ColorVariantGroups(k=10, target_precision=0.9, guard="both", rerank=args.dedup_rerank,
                                    method=args.dedup_method).find(es, index=first_auto)
        wall = time.perf_counter() - t1
        dedup = {"wall_s": round(wall, 1), **result.summary()}
        dist = result.size_distribution
        print(
            f"dedup on {args.n}: {wall:.1f}s (knn {result.timings['knn_s']:.1f}s, grouping "
            f"{result.timings['group_s']:.1f}s (curve {result.timings.get('curve_s', 0.0):.1f}s), re-rank "
            f"{result.timings.get('rerank_s', 0.0):.1f}s, rows {result.timings['rows_s']:.1f}s, edge tuning "
            f"{result.timings['edge_tuning_s']:.1f}s: {result.params['edge_tuning']}) via {first_auto.kind}; "
            f"threshold {result.threshold:.4f}; {dist['n_groups']} groups, largest {dist['max_size']}; "
            f"metrics {json.dumps({k: round(v, 4) for k, v in (result.metrics or {}).items()})}",
            flush=True,
        )
    info["load_avg_end"] = os.getloadavg()
    report = {
        "command": " ".join(
            [f"{v}={os.environ[v]}" for v in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY") if v in os.environ]
            + [sys.executable, *sys.argv]
        ),
        "machine": info,
        "data": {"n": args.n, "d": args.d, "clusters": clusters, "parents": parents,
                 "parent_spread": args.parent_spread, "noise": args.noise, "seed": args.seed,
                 "generate_s": round(gen_s, 1), "queries": int(len(q_rows))},
        "rows": [r.__dict__ for r in rows],
        "dedup": dedup,
    }
    if args.out:
        write_json(args.out, report)
        print(f"wrote {args.out}")
    print(f"load average start {info['load_avg_start']}, end {info['load_avg_end']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
