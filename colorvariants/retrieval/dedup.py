"""Colour-variant groups for catalog de-duplication: kNN graph, threshold, chaining guard, components.

Pipeline (shared/docs/protocol.md, "Grouping"):

1. kNN graph: each image's ``k`` nearest neighbours by cosine, searched through a FAISS index in batches (an
   index built with ``kind="auto"`` when none is given: exact below 100k images, HNSW above). The index's
   ``nprobe``/``efSearch`` was tuned for recall@10 against exact search, which on spread-out data hinges on
   far, nearly tied neighbours that grouping never keeps; so the knob is re-tuned here on a sample for the
   edges that matter: exact neighbours above the (estimated) threshold must be found with ``edge_recall``.
1b. Similarity: cosine, or a re-ranked similarity computed on the same graph (``rerank``: CSLS, k-reciprocal,
   QE, DBA; ``colorvariants.retrieval.rerank``). With a re-ranker the edge re-tuning is skipped (the index
   keeps its own tuned knob).
2. Threshold: keep edges with similarity >= T. T is given, or chosen on the grouping's precision-recall curve
   over labelled styles (``operating_point``): every candidate T groups the whole set (method, guards, product
   merge) and is measured on the labelled products; the point is the most recall at the target pair precision
   (or the most precision at a target recall, or the best F1). The curve is kept in the result.
   ``method`` turns the edges into merges: ``components`` (single linkage), ``average``/``complete`` linkage
   over the kNN edges (``colorvariants.retrieval.linkage``).
3. Chaining guard: ``mutual`` keeps an edge only if each end is among the other's k nearest neighbours (hubs
   stop linking everything); ``diameter`` splits any group holding two members less similar than the diameter
   similarity (complete linkage cut at that similarity); ``both`` applies the two. The diameter is a cosine, so
   with a re-ranked similarity it applies only when ``diameter`` is given.
4. Connected components of what is left; images of one product always share a group (a product is one
   colour of one design by definition), so groups holding the same product are joined afterwards.
5. Rows: one per image with ``group_id``, ``group_size`` (images), ``group_products``, ``product_id``,
   ``image_path``, ``similarity_to_medoid`` (cosine to the member with the highest summed similarity to the
   others), ``is_medoid``.

Cost at 1M images: one batched kNN search (the index's QPS), O(N·k) edges, and small per-group matrix products
bucketed by group size, once per threshold of the curve (12 beyond 200k images); nothing is O(N^2).

>>> result = find_groups(EmbeddingSet.load("E"), target_precision=0.9)   # doctest: +SKIP
>>> result.save("groups.parquet"); result.summary()["metrics"]            # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from colorvariants.errors import EmbeddingError, IndexFileError
from colorvariants.io import atomic_path
from colorvariants.metrics.grouping import group_size_distribution, grouping_metrics, product_precision_recall
from colorvariants.retrieval.choices import GUARD_NAMES, Guard, IndexChoice, LinkageName, check_listed
from colorvariants.retrieval.index.base import (
    INDEX_KINDS,
    drop_self,
    exact_knn,
    iter_unit_batches,
    with_offsets,
)
from colorvariants.retrieval.linkage import LINKAGES, Merges, components
from colorvariants.retrieval.operating_point import (
    CurvePoint,
    GroupingCurve,
    OperatingTarget,
    curve_thresholds,
    refine,
)
from colorvariants.retrieval.rerank import (
    NO_RERANK,
    Database,
    Reranker,
    catalog_candidates,
    make_reranker,
    rerank,
)
from colorvariants.retrieval.rerank.graph import NeighbourGraph, knn_graph
from colorvariants.retrieval.store import EmbeddingSet
from colorvariants.retrieval.timing import StageTimer

if TYPE_CHECKING:
    from colorvariants.retrieval.index.io import IndexBundle

log = logging.getLogger(__name__)

# guard name -> (filter edges to mutual kNN, split groups wider than the diameter similarity)
GUARDS: dict[Guard, tuple[bool, bool]] = {
    "none": (False, False),
    "mutual": (True, False),
    "diameter": (False, True),
    "both": (True, True),
}
for _guard in GUARDS:
    check_listed(_guard, GUARD_NAMES, "chaining guard")
# Entries of the (groups x size x size) similarity blocks computed at once: 8M float32 = 32 MB.
_BLOCK_ENTRIES = 8_000_000


@dataclass(frozen=True)
class Calibration:
    """How the threshold was chosen: target, precision reached on labelled kNN pairs, the pairs behind it."""

    threshold: float
    target_precision: float
    precision: float
    recall: float
    n_labelled_pairs: int
    n_positive_pairs: int
    n_pairs_kept: int


def calibrate_threshold(
    similarity: np.ndarray, same_style: np.ndarray, target_precision: float
) -> Calibration:
    """Lowest similarity threshold whose pairwise precision on labelled pairs is >= ``target_precision``.

    Args:
        similarity: cosine of each labelled candidate pair (each unordered pair once).
        same_style: whether the pair's two products share a style.

    Raises:
        EmbeddingError: no labelled pairs, or no threshold reaches the target (names the best precision).

    >>> calibrate_threshold(np.array([0.9, 0.8, 0.7]), np.array([True, True, False]), 0.9).threshold
    0.8
    """
    sims = np.asarray(similarity, dtype=np.float64).reshape(-1)
    pos = np.asarray(same_style, dtype=bool).reshape(-1)
    if sims.size == 0:
        raise EmbeddingError(
            "no labelled kNN pairs to calibrate the threshold on (no two neighbouring products both have a "
            "style_id).",
            fix="pass --threshold, or add style_id labels for some styles.",
        )
    order = np.argsort(-sims, kind="stable")
    s, p = sims[order], pos[order]
    cum_pos = np.cumsum(p)
    kept = np.arange(1, s.size + 1)
    precision = cum_pos / kept
    # A threshold keeps every pair tied with the last one kept: only cuts at the end of a run of ties count.
    cut_ok = np.append(s[1:] != s[:-1], True)
    good = np.flatnonzero(cut_ok & (precision >= target_precision))
    total_pos = int(p.sum())
    if good.size == 0:
        best = int(np.argmax(np.where(cut_ok, precision, -1)))
        raise EmbeddingError(
            f"no similarity threshold reaches pairwise precision {target_precision:.3g} on the {s.size} "
            f"labelled kNN pairs (best {precision[best]:.3g} at {s[best]:.4f}); the embeddings do not "
            "separate these styles well enough.",
            fix="lower --target-precision, pass --threshold, or train a better model.",
        )
    i = int(good[-1])
    return Calibration(
        threshold=float(s[i]),
        target_precision=float(target_precision),
        precision=float(precision[i]),
        recall=float(cum_pos[i] / total_pos) if total_pos else 1.0,
        n_labelled_pairs=int(s.size),
        n_positive_pairs=total_pos,
        n_pairs_kept=int(i + 1),
    )


@dataclass
class GroupResult:
    """Groups found in an embedding set: one row per image, the threshold used, and how good the groups are.

    ``metrics`` (pairwise precision/recall/F1 and ARI over products with a known style, grouped products vs
    styles) is None without labels. ``size_distribution`` counts products per group.
    """

    frame: pd.DataFrame
    threshold: float
    params: dict[str, Any]
    calibration: Calibration | None
    metrics: dict[str, float] | None
    size_distribution: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    curve: GroupingCurve | None = None

    @property
    def n_groups(self) -> int:
        return int(self.frame["group_id"].nunique())

    def summary(self) -> dict[str, Any]:
        """Everything but the rows, JSON-ready."""
        return {
            "threshold": self.threshold,
            "params": self.params,
            "calibration": asdict(self.calibration) if self.calibration else None,
            "metrics": self.metrics,
            "size_distribution": self.size_distribution,
            "timings": self.timings,
            "curve": self.curve.as_dict() if self.curve else None,
        }

    def save(self, path: str | Path) -> Path:
        """Write the rows as CSV, Parquet or JSON (a list of row objects) by extension, atomically.

        Raises:
            ValueError: an extension other than .csv, .parquet/.pq, .json.
        """
        path = Path(path)
        writer = _WRITERS.get(path.suffix.lower())
        if writer is None:
            got = path.suffix or "no extension"
            raise ValueError(f"{path}: write groups as .csv, .parquet or .json (got {got!r})")
        with atomic_path(path, suffix=path.suffix) as tmp:
            writer(self.frame, tmp)
        return path


_WRITERS: dict[str, Any] = {
    ".csv": lambda frame, tmp: frame.to_csv(tmp, index=False),
    ".parquet": lambda frame, tmp: frame.to_parquet(tmp, index=False),
    ".pq": lambda frame, tmp: frame.to_parquet(tmp, index=False),
    ".json": lambda frame, tmp: frame.to_json(tmp, orient="records", indent=1),
}


@dataclass
class ColorVariantGroups:
    """Settings of colour-variant grouping; ``find`` runs it on an embedding set.

    Args:
        k: neighbours per image in the kNN graph.
        threshold: cosine similarity an edge needs; None = calibrate on labelled styles.
        target_precision: pairwise precision the calibrated threshold must reach on labelled kNN pairs.
        guard: ``mutual``, ``diameter``, ``both`` (default) or ``none`` (see the module docstring). ``both``
            is the default because a threshold calibrated to 90% pair precision still admits 10% wrong edges,
            and on synthetic clustered data those chain most styles into a few giant groups unless the
            diameter check splits them; mutual kNN alone removes only part of them.
        diameter: least similarity allowed between any two members by the diameter guard (default: threshold).
        merge_products: join groups that hold images of the same product.
        max_exact_group: groups larger than this are cut by raising their edge threshold before the exact
            (quadratic) diameter check, and use the member nearest the mean as medoid.
        index_kind / memory_budget: the index built when ``find`` is given none.
        batch_rows: queries per kNN search batch.
        edge_recall: share of the sample's exact above-threshold neighbours the approximate kNN search must
            find; the index's search knob is set to the cheapest value reaching it (at most the index's own
            tuned value) for this run only.
        tune_sample: queries in that sample.
        rerank: similarity the edges carry: None/``none`` = cosine, or a re-ranker spec (``csls``,
            ``kreciprocal``, ``dba``, ``qe``; ``colorvariants.retrieval.rerank``) computed on the kNN graph.
        method: ``components`` (threshold + guards), ``average`` or ``complete`` linkage on the kNN graph
            (``colorvariants.retrieval.linkage``).
        target: how the threshold is chosen on the grouping's precision-recall curve when none is given
            (default: ``OperatingTarget(precision=target_precision)``).
        curve: also measure the curve when a threshold is given (needs style labels).
        curve_points: thresholds on the curve; None = by size (every cut re-groups the whole set, with guards):
            60 up to 50k images, 40 up to 200k, 12 beyond (each cut at 1M costs seconds). The operating point
            is then refined by bisection next to the chosen point (``operating_point.refine``), so a coarse
            curve costs display detail, not the threshold.
    """

    k: int = 10
    threshold: float | None = None
    target_precision: float = 0.9
    guard: Guard = "both"
    diameter: float | None = None
    merge_products: bool = True
    max_exact_group: int = 2048
    index_kind: IndexChoice = "auto"
    memory_budget: int | str | None = None
    batch_rows: int = 16_384
    edge_recall: float = 0.99
    tune_sample: int = 2000
    rerank: str | None = None
    method: LinkageName = "components"
    target: OperatingTarget | None = None
    curve: bool = True
    curve_points: int | None = None

    def __post_init__(self) -> None:
        if self.guard not in GUARDS:
            raise ValueError(f"guard must be one of {sorted(GUARDS)}; got {self.guard!r}")
        if self.method not in LINKAGES:
            raise ValueError(f"method must be one of {sorted(LINKAGES)}; got {self.method!r}")
        make_reranker(self.rerank)  # an unknown name fails here, before any search
        if self.k < 1:
            raise ValueError(f"k must be >= 1; got {self.k}")
        if not 0.0 < self.target_precision <= 1.0:
            raise ValueError(f"target_precision must be in (0, 1]; got {self.target_precision}")

    def find(
        self, embedding_set: EmbeddingSet, *, index: IndexBundle | None = None, labels: Any = None
    ) -> GroupResult:
        """Group the images of ``embedding_set`` into colour-variant groups.

        The steps (module docstring): an index over the set, its search knob re-tuned for the edges, the kNN
        graph, the edges' similarity, the threshold on the grouping's curve, the groups cut there and their rows.
        ``timings`` holds each step's seconds.

        Args:
            index: an index built over exactly these embeddings (same rows, same order); None builds one.
            labels: style label per row (empty/None = unknown) for calibration and metrics; default: the
                ``style_id`` column of the ids when present.

        Raises:
            EmbeddingError: empty set; no threshold and no labels to calibrate on; target unreachable.
            IndexFileError: ``index`` does not hold these embeddings.
        """
        es = embedding_set
        n = es.count
        if n == 0:
            raise EmbeddingError("the embedding set is empty: nothing to group.")
        es.ensure_valid()
        timer = StageTimer()
        vectors = es.unit_vectors()
        style = _style_labels(es.ids, labels, n)
        has_products = "product_id" in es.ids.columns
        product = _codes(es.ids["product_id"]) if has_products else np.arange(n, dtype=np.int64)

        if index is None:
            with timer.stage("index_build_s"):
                index = self._build_index(es)
        else:
            _check_index_matches(index, es)
        reranker = make_reranker(self.rerank)
        with timer.stage("edge_tuning_s"):
            edge_tuning = self._tune_for_edges(index, vectors, style, product, n) if reranker is None else {}
        with timer.stage("knn_s"):
            graph = self._knn_graph(index, vectors, reranker)
        with timer.stage("rerank_s"):
            cosine, ranked = self._similarities(graph, vectors, reranker)

        with timer.stage("group_s"):
            grouper = self._grouper(ranked, cosine, vectors, product, reranker, n)
            measure = _Measure(style, product) if style is not None else None
            threshold, curve, calibration = self._operating_point(grouper, measure, reranker, n, timer)
            group = grouper(threshold)
            group = pd.factorize(group)[0].astype(np.int64)  # ids in order of first appearance

        with timer.stage("rows_s"):
            sim_to_medoid, is_medoid = _medoid_similarity(group, vectors, self.max_exact_group)
            frame = _rows_frame(es.ids, group, product, sim_to_medoid, is_medoid)
            per_product = pd.DataFrame({"product": product, "group": group}).drop_duplicates("product")
            metrics = measure.metrics(group) if measure is not None else None
        diameter = float(threshold if self.diameter is None else self.diameter)
        params = {
            "k": self.k, "guard": self.guard, "diameter": diameter if grouper.split_wide else None,
            "merge_products": self.merge_products, "index_kind": index.kind,
            "index_search_params": index.search_params, "edge_tuning": edge_tuning, "n_images": n,
            "n_products": int(per_product.shape[0]), "method": self.method,
            "rerank": reranker.spec() if reranker else NO_RERANK,
        }
        return GroupResult(
            frame=frame,
            threshold=threshold,
            params=params,
            calibration=calibration,
            metrics=metrics,
            size_distribution=group_size_distribution(per_product["group"].to_numpy()),
            timings=timer.finish("total_s"),
            curve=curve,
        )

    def _method_name(self, reranker: Reranker | None) -> str:
        return f"{self.method}+{self.guard}" + (f" on {reranker.spec()}" if reranker else " on cosine")

    # -- steps --------------------------------------------------------------------------------------------
    def _build_index(self, es: EmbeddingSet) -> IndexBundle:
        """The index ``find`` builds when it is given none (``index_kind``, ``memory_budget``)."""
        from colorvariants.retrieval.index.build import build_index

        return build_index(es, kind=self.index_kind, memory_budget=self.memory_budget)

    def _knn_graph(self, index: IndexBundle, vectors: np.ndarray, reranker: Reranker | None) -> NeighbourGraph:
        """The kNN graph as wide as the edges and the re-ranker need, searched through ``index``.

        The index's own search parameters are restored afterwards (edge tuning may have changed them): the
        bundle keeps them for whoever searches it next.
        """
        width = max(self.k, reranker.graph_k if reranker else 0)
        try:
            return knn_graph(
                vectors, width,
                search=lambda q, d: index.search(q, d, normalized=True, batch_rows=self.batch_rows),
                batch_rows=self.batch_rows,
            )
        finally:
            INDEX_KINDS[index.kind].apply_search_params(index.index, index.search_params)

    def _similarities(
        self, graph: NeighbourGraph, vectors: np.ndarray, reranker: Reranker | None
    ) -> tuple[NeighbourGraph, NeighbourGraph]:
        """``(cosine, ranked)``: the first ``k`` neighbours by cosine, and by the similarity the edges carry."""
        cosine = graph.head(self.k)
        if reranker is None:
            return cosine, cosine
        db = Database(vectors, graph)
        return cosine, rerank(reranker, db, catalog_candidates(db, self.k))

    def _grouper(
        self, ranked: NeighbourGraph, cosine: NeighbourGraph, vectors: np.ndarray, product: np.ndarray,
        reranker: Reranker | None, n: int,
    ) -> _Grouper:
        """The grouping at any threshold: guarded edges turned into merges by ``method``, cut, split, joined."""
        mutual, split_wide = GUARDS[self.guard]
        src, dst, sim = ranked.edges()
        if mutual:
            keep = _mutual(src, dst, n)
            src, dst, sim = src[keep], dst[keep], sim[keep]
        merges = LINKAGES[self.method].merges(src, dst, sim, n)
        # The diameter guard is a cosine check: with a re-ranked similarity it needs its own --diameter.
        split_wide = split_wide and (reranker is None or self.diameter is not None)
        return _Grouper(self, merges, split_wide, vectors, cosine.edges(), product)

    def _operating_point(
        self, grouper: _Grouper, measure: _Measure | None, reranker: Reranker | None, n: int, timer: StageTimer
    ) -> tuple[float, GroupingCurve | None, Calibration | None]:
        """``(threshold, curve, calibration)``: the given threshold, or the one chosen on the grouping's curve.

        The curve is measured on the labelled products (when there are any) whenever a threshold must be chosen
        or ``curve`` asks for it; the chosen point is then refined by bisection next to it.
        """
        curve = None
        if measure is not None and (self.threshold is None or self.curve):
            with timer.stage("curve_s"):
                thresholds = curve_thresholds(grouper.merges.height, self.curve_points or _curve_points(n))
                curve = measure.curve(self._method_name(reranker), grouper, thresholds)
        if self.threshold is not None:
            return float(self.threshold), curve, None
        if measure is None or curve is None:
            raise EmbeddingError(
                "no threshold given and no style labels to calibrate one on.",
                fix="pass --threshold T, or include style_id for some styles (e.g. a labelled validation "
                    "sample).",
            )
        target = self.target or OperatingTarget(precision=self.target_precision)
        with timer.stage("refine_s"):
            chosen = refine(curve, target, grouper.merges.height, lambda t: measure.point(grouper, t))
        curve.criterion = target.describe()
        point = curve.points[chosen]
        return float(point.threshold), curve, measure.calibration(point, target)

    def _tune_for_edges(
        self, index: IndexBundle, vectors: np.ndarray, style: np.ndarray | None, product: np.ndarray, n: int
    ) -> dict[str, Any]:
        """Set the index's search knob to the cheapest value finding ``edge_recall`` of the exact neighbours
        above the threshold on a sample of queries (the threshold estimated on the sample when calibrating),
        at most the index's own tuned value.

        Returns what was done, for the report; leaves the knob as it was when there is nothing to tune.
        """
        kind = INDEX_KINDS[index.kind]
        k = min(self.k, n - 1)
        if kind.search_param is None or k < 1:
            return {}
        rng = np.random.default_rng(0)
        rows = np.sort(rng.choice(n, size=min(n, self.tune_sample), replace=False))
        queries = np.ascontiguousarray(vectors[rows], dtype=np.float32)
        exact = exact_knn(lambda: with_offsets(iter_unit_batches(vectors, normalized=True)), queries, k + 1)
        exact_sims, exact_rows = drop_self(*exact, rows, k)
        threshold = self.threshold
        if threshold is None:
            if style is None or (self.target is not None and self.target.precision is None):
                return {}
            src, dst = np.repeat(rows, k), exact_rows.reshape(-1)
            ok = dst >= 0
            try:
                threshold = _calibrate(src[ok], dst[ok], exact_sims.reshape(-1)[ok], style, product, n,
                                       self.target_precision).threshold
            except EmbeddingError:  # too few labels in the sample: keep the index's own setting
                return {}
        relevant = (exact_sims >= threshold) & (exact_rows >= 0)
        if not relevant.any():
            return {}
        params = {**kind.infer_params(index.index), **index.meta.get("params", {})}
        values = kind.search_values(params)
        own = index.search_params.get(kind.search_param)
        if own is not None:  # never dearer than the index's own setting, which met the build's recall target
            values = [v for v in values if v < own] + [own]
        recall, value = 0.0, values[-1]
        for value in values:
            kind.apply_search_params(index.index, {kind.search_param: value})
            _, got = drop_self(*index.search(queries, k + 1, normalized=True), rows, k)
            found = (got[:, :, None] == exact_rows[:, None, :]).any(axis=1)
            recall = float(found[relevant].mean())
            if recall >= self.edge_recall:
                break
        return {
            kind.search_param: int(value),
            "edge_recall": recall,
            "threshold_estimate": float(threshold),
            "n_sample_edges": int(relevant.sum()),
        }

    def _split_wide(
        self, group: np.ndarray, vectors: np.ndarray, src: np.ndarray, dst: np.ndarray, sim: np.ndarray,
        diameter: float,
    ) -> np.ndarray:
        """Diameter guard: split every group holding two members with similarity < ``diameter``."""
        from scipy.cluster.hierarchy import fcluster, linkage

        group = group.copy()
        next_id = int(group.max()) + 1 if group.size else 0
        sizes = np.bincount(group)
        # Oversized groups: raise their edge threshold until the pieces are small enough for the exact check.
        for g in np.flatnonzero(sizes > self.max_exact_group):
            for piece in self._cut_large(np.flatnonzero(group == g), src, dst, sim, diameter):
                group[piece] = next_id
                next_id += 1
        for members in _wide_groups(group, vectors, diameter, self.max_exact_group):
            x = np.asarray(vectors[members], dtype=np.float64)
            dist = np.clip(1.0 - x @ x.T, 0.0, 2.0)
            condensed = dist[np.triu_indices(len(members), 1)]
            # Complete linkage cut at 1 - diameter: every cluster's farthest pair is within the diameter.
            parts = fcluster(linkage(condensed, method="complete"), t=1.0 - diameter, criterion="distance")
            for p in np.unique(parts)[1:]:
                group[members[parts == p]] = next_id
                next_id += 1
        return group

    def _cut_large(
        self, members: np.ndarray, src: np.ndarray, dst: np.ndarray, sim: np.ndarray, start: float
    ) -> Iterator[np.ndarray]:
        """Pieces of an oversized group by edge thresholds rising from ``start`` in 0.01 steps until small."""
        inside = np.isin(src, members) & np.isin(dst, members)
        s_src, s_dst, s_sim = src[inside], dst[inside], sim[inside]
        a = np.searchsorted(members, s_src)  # members are sorted rows: position = local id
        b = np.searchsorted(members, s_dst)
        t = start
        while True:
            t += 0.01
            keep = s_sim >= t
            labels = components(a[keep], b[keep], members.size)
            if np.bincount(labels).max() <= self.max_exact_group or t > 1.0:
                break
        if t > 1.0:
            log.warning("a group of %d near-identical images stays above max_exact_group", members.size)
        for lab in np.unique(labels):
            yield members[labels == lab]


def find_groups(
    embedding_set: EmbeddingSet,
    *,
    index: IndexBundle | None = None,
    k: int = 10,
    threshold: float | None = None,
    target_precision: float = 0.9,
    labels: Any = None,
    guard: Guard = "both",
    diameter: float | None = None,
    merge_products: bool = True,
    edge_recall: float = 0.99,
    rerank: str | None = None,
    method: LinkageName = "components",
    target: OperatingTarget | None = None,
) -> GroupResult:
    """Colour-variant groups of an embedding set (see ``ColorVariantGroups`` for every argument)."""
    cfg = ColorVariantGroups(
        k=k, threshold=threshold, target_precision=target_precision, guard=guard, diameter=diameter,
        merge_products=merge_products, edge_recall=edge_recall, rerank=rerank, method=method, target=target,
    )
    return cfg.find(embedding_set, index=index, labels=labels)


# -- helpers ------------------------------------------------------------------------------------------------
def _style_labels(ids: pd.DataFrame, labels: Any, n: int) -> np.ndarray | None:
    """Style code per row (-1 = unknown), or None when nothing is labelled."""
    if labels is None:
        if "style_id" not in ids.columns:
            return None
        values = ids["style_id"]
    else:
        values = pd.Series(np.asarray(labels, dtype=object).reshape(-1))
        if len(values) != n:
            raise EmbeddingError(f"labels has {len(values)} entries for {n} embeddings.")
    known = values.notna() & (values.astype(str) != "")
    if not known.any():
        return None
    codes = np.full(n, -1, dtype=np.int64)
    codes[known.to_numpy()] = pd.factorize(values[known].astype(str))[0]
    return codes


def _codes(values: pd.Series) -> np.ndarray:
    return pd.factorize(values.astype(str))[0].astype(np.int64)


def _check_index_matches(index: IndexBundle, es: EmbeddingSet) -> None:
    if index.count != es.count or index.dim != es.dim:
        raise IndexFileError(
            f"the index holds {index.count} vectors of dim {index.dim} but the embeddings are {es.count} x "
            f"{es.dim}.",
            fix="pass the index built from these embeddings, or omit --index to build one.",
        )
    if "image_path" in index.ids.columns and "image_path" in es.ids.columns:
        same = index.ids["image_path"].astype(str).to_numpy() == es.ids["image_path"].astype(str).to_numpy()
        if not same.all():
            row = int(np.flatnonzero(~same)[0])
            raise IndexFileError(
                f"the index's rows are not these embeddings' rows (first difference at row {row}: "
                f"{index.ids['image_path'].iloc[row]!r} vs {es.ids['image_path'].iloc[row]!r}).",
                fix="pass the index built from these embeddings, or omit --index.",
            )


def _curve_points(n: int) -> int:
    return 60 if n <= 50_000 else 40 if n <= 200_000 else 12


@dataclass(frozen=True, eq=False)
class _Grouper:
    """The groups at any threshold ``t``: the merges cut at ``t``, groups wider than the diameter split (when the
    guard asks for it) and groups sharing a product joined (``merge_products``)."""

    cfg: ColorVariantGroups
    merges: Merges
    split_wide: bool
    vectors: np.ndarray
    cos_edges: tuple[np.ndarray, np.ndarray, np.ndarray]
    product: np.ndarray

    def __call__(self, t: float) -> np.ndarray:
        group = self.merges.cut(t)
        if self.split_wide:
            diameter = float(t if self.cfg.diameter is None else self.cfg.diameter)
            group = self.cfg._split_wide(group, self.vectors, *self.cos_edges, diameter)
        return _merge_by(group, self.product) if self.cfg.merge_products else group


class _Measure:
    """Grouping measured on the labelled products: pair and product precision/recall, the curve, the point."""

    def __init__(self, style: np.ndarray, product: np.ndarray) -> None:
        labelled = style >= 0
        first = pd.DataFrame({"product": product[labelled], "row": np.flatnonzero(labelled)})
        first = first.drop_duplicates("product")
        self.rows = first["row"].to_numpy()  # one labelled row per product
        self.style = style[self.rows]
        counts = np.bincount(self.style) if self.style.size else np.zeros(0, np.int64)
        self.n_pairs = int((counts * (counts - 1) // 2).sum())
        self.n_labelled_pairs = int(self.rows.size * (self.rows.size - 1) // 2)

    def metrics(self, group: np.ndarray) -> dict[str, float] | None:
        if self.rows.size == 0:
            return None
        out = grouping_metrics(self.style, group[self.rows])
        out.update(product_precision_recall(self.style, group[self.rows]))
        out["n_products_labelled"] = int(self.rows.size)
        return out

    def point(self, groups_at: Any, t: float) -> CurvePoint:
        """The groups cut at ``t``, measured."""
        group = groups_at(float(t))
        m = self.metrics(group) or {}
        return CurvePoint(
            threshold=float(t), pair_precision=m.get("pairwise_precision", 1.0),
            pair_recall=m.get("pairwise_recall", 0.0), pair_f1=m.get("pairwise_f1", 0.0),
            product_precision=m.get("product_precision", 1.0), product_recall=m.get("product_recall", 0.0),
            n_groups=int(np.unique(group).size),
        )

    def curve(self, name: str, groups_at: Any, thresholds: np.ndarray) -> GroupingCurve:
        points = [self.point(groups_at, t) for t in thresholds]
        return GroupingCurve(name, points, extra={"n_positive_pairs": self.n_pairs,
                                                  "n_products_labelled": int(self.rows.size)})

    def calibration(self, point: CurvePoint, target: OperatingTarget) -> Calibration:
        return Calibration(
            threshold=point.threshold,
            target_precision=float(target.precision) if target.precision is not None else float("nan"),
            precision=point.pair_precision,
            recall=point.pair_recall,
            n_labelled_pairs=self.n_labelled_pairs,
            n_positive_pairs=self.n_pairs,
            n_pairs_kept=int(round(point.pair_recall * self.n_pairs / max(point.pair_precision, 1e-12))),
        )


def _calibrate(
    src: np.ndarray, dst: np.ndarray, sim: np.ndarray, style: np.ndarray, product: np.ndarray, n: int,
    target: float,
) -> Calibration:
    """Calibrate on unordered kNN pairs of two different products whose styles are both known."""
    usable = (style[src] >= 0) & (style[dst] >= 0) & (product[src] != product[dst])
    a, b, s = src[usable], dst[usable], sim[usable]
    key = np.minimum(a, b) * n + np.maximum(a, b)
    _, first = np.unique(key, return_index=True)
    a, b, s = a[first], b[first], s[first]
    return calibrate_threshold(s, style[a] == style[b], target)


def _mutual(src: np.ndarray, dst: np.ndarray, n: int) -> np.ndarray:
    """Mask of edges whose reverse edge is also present."""
    forward = src * n + dst
    backward = dst * n + src
    return np.isin(backward, forward)


def _merge_by(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Join groups that share a value of ``key`` (e.g. images of one product split apart)."""
    n_groups = int(group.max()) + 1
    # Bipartite graph groups <-> keys; its components are the merged groups.
    n_keys = int(key.max()) + 1
    labels = components(group, n_groups + key, n_groups + n_keys)
    return labels[group]


def _grouped(group: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(size, (G, size) member rows) for every size of group, members sorted by row."""
    order = np.argsort(group, kind="stable")
    sizes = np.bincount(group)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    for size in np.unique(sizes[sizes > 0]):
        gs = np.flatnonzero(sizes == size)
        yield int(size), order[starts[gs][:, None] + np.arange(size)[None, :]]


def _blocks(members: np.ndarray, size: int) -> Iterator[np.ndarray]:
    per_block = max(1, _BLOCK_ENTRIES // (size * size))
    for start in range(0, members.shape[0], per_block):
        yield members[start : start + per_block]


def _wide_groups(
    group: np.ndarray, vectors: np.ndarray, diameter: float, max_exact: int
) -> Iterator[np.ndarray]:
    """Members of each group (2..max_exact members) whose least similar pair is below ``diameter``."""
    for size, members in _grouped(group):
        if size < 2 or size > max_exact:
            continue
        for block in _blocks(members, size):
            x = np.asarray(vectors[block.reshape(-1)], dtype=np.float32).reshape(block.shape[0], size, -1)
            sims = np.einsum("gid,gjd->gij", x, x)
            if np.any(sims.min(axis=(1, 2)) < diameter):
                for g in np.flatnonzero(sims.min(axis=(1, 2)) < diameter):
                    yield block[g]


def _medoid_similarity(
    group: np.ndarray, vectors: np.ndarray, max_exact: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of each row to its group's medoid (max summed similarity; nearest the mean above max_exact)."""
    n = group.size
    sim = np.ones(n, dtype=np.float32)
    is_medoid = np.zeros(n, dtype=bool)
    for size, members in _grouped(group):
        if size == 1:
            is_medoid[members[:, 0]] = True
            continue
        for block in _blocks(members, min(size, max_exact)):
            x = np.asarray(vectors[block.reshape(-1)], dtype=np.float32).reshape(block.shape[0], size, -1)
            if size <= max_exact:
                sims = np.einsum("gid,gjd->gij", x, x)
                med = sims.sum(axis=2).argmax(axis=1)
                to_med = sims[np.arange(block.shape[0]), med]
            else:
                mean = x.mean(axis=1)
                med = np.einsum("gid,gd->gi", x, mean).argmax(axis=1)
                to_med = np.einsum("gid,gd->gi", x, x[np.arange(block.shape[0]), med])
            sim[block.reshape(-1)] = to_med.reshape(-1)
            is_medoid[block[np.arange(block.shape[0]), med]] = True
    return sim, is_medoid


def _rows_frame(
    ids: pd.DataFrame, group: np.ndarray, product: np.ndarray, sim: np.ndarray, is_medoid: np.ndarray
) -> pd.DataFrame:
    sizes = np.bincount(group)
    products_per_group = pd.Series(product).groupby(group).nunique().to_numpy()
    frame = pd.DataFrame(
        {
            "group_id": group,
            "group_size": sizes[group],
            "group_products": products_per_group[group],
            "product_id": ids["product_id"].astype(str).to_numpy() if "product_id" in ids.columns else "",
            "image_path": ids["image_path"].astype(str).to_numpy() if "image_path" in ids.columns else "",
            "similarity_to_medoid": np.round(sim.astype(np.float64), 6),
            "is_medoid": is_medoid,
            "row": np.arange(group.size),
        }
    )
    if "style_id" in ids.columns:
        frame.insert(4, "style_id", ids["style_id"].astype(str).to_numpy())
    return frame.sort_values(["group_id", "similarity_to_medoid", "row"], ascending=[True, False, True],
                             kind="stable").reset_index(drop=True)
