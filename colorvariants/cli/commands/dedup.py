"""``colorvariants dedup``: colour-variant groups of an embedding set, written as CSV, Parquet or JSON."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from colorvariants.cli.registry import register
from colorvariants.cli.rerank_arg import rerank_spec
from colorvariants.retrieval.choices import GUARD_NAMES, LINKAGE_NAMES, NO_RERANK, RERANKER_NAMES

# From colorvariants.retrieval.choices, which imports no faiss (for --help); the registries are checked against it.
LINKAGE_CHOICES = LINKAGE_NAMES
# Chosen on the val split of the 300-style synthetic catalog (BENCHMARKS.md, "Re-ranking and grouping"): with CSLS
# the components grouped 7.1% / 12.1% of the variant pairs at pair precision >= 0.85 / 0.7 where cosine reached
# 0.5 at no threshold. On the 5-minute models (session 5) components and average linkage are level at the
# default target (0.9) and average linkage groups more at 0.85 and below, on val and test. The guard stays "both": with a re-ranked
# similarity the diameter check (a cosine check) is skipped unless --diameter is given, leaving the mutual check.
DEFAULT_RERANK = "csls"
DEFAULT_METHOD = "components"
DEFAULT_GUARD = "both"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embeddings", required=True, help="embedding-set folder")
    parser.add_argument("--index", default=None, help="index of these embeddings (default: build one)")
    parser.add_argument("--out", required=True, help="groups file: .csv, .parquet or .json (a row per image)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--threshold", type=float, default=None, help="cosine similarity an edge needs")
    how.add_argument("--target-precision", type=float, default=None,
                     help="choose the threshold on the grouping's precision-recall curve over labelled styles: "
                          "the most recall at this pair precision (default 0.9)")
    how.add_argument("--target-recall", type=float, default=None,
                     help="instead: the most precision that groups this share of the variant pairs")
    how.add_argument("--best-f1", action="store_true", help="instead: the threshold of the best pair F1")
    parser.add_argument("--rerank", default=None, type=rerank_spec,
                        help=f"similarity of the edges: {NO_RERANK} (cosine), {', '.join(RERANKER_NAMES)}, with settings "
                             f"as NAME:key=value,... (default {DEFAULT_RERANK}; cosine when --threshold is given, "
                             "so a threshold keeps its cosine meaning; see BENCHMARKS.md)")
    parser.add_argument("--method", choices=LINKAGE_CHOICES, default=DEFAULT_METHOD,
                        help="components (threshold + guards), average or complete linkage on the kNN graph "
                             f"(default {DEFAULT_METHOD}; for a target precision of 0.85 or less, average "
                             "groups more: BENCHMARKS.md)")
    parser.add_argument("--previous", default=None,
                        help="groups file of an earlier run: keep its group ids where the groups persist, and "
                             "report merges and splits")
    parser.add_argument("--k", type=int, default=10, help="neighbours per image in the kNN graph")
    parser.add_argument("--guard", choices=GUARD_NAMES, default=DEFAULT_GUARD,
                        help=f"chaining guard: mutual-kNN edges, group diameter check, both or none (default {DEFAULT_GUARD})")
    parser.add_argument("--diameter", type=float, default=None,
                        help="least similarity between any two group members (default: the threshold)")
    parser.add_argument("--edge-recall", type=float, default=0.99,
                        help="share of exact above-threshold neighbours the kNN search must find")
    parser.add_argument("--summary", default=None,
                        help="also write threshold, calibration, metrics and the grouping's precision-recall "
                             "curve (labelled styles) as JSON here")


def run(args: argparse.Namespace) -> int:
    from colorvariants.outputs import claim_file

    with claim_file(args.out):  # one writer per groups file
        return _find_groups(args)


def _find_groups(args: argparse.Namespace) -> int:
    from colorvariants.io import write_json
    from colorvariants.retrieval.dedup import ColorVariantGroups
    from colorvariants.retrieval.store import EmbeddingSet

    es = EmbeddingSet.load(args.embeddings)
    index = None
    if args.index:
        from colorvariants.retrieval.index import load_index

        index = load_index(args.index, expected_dim=es.dim)
    from colorvariants.retrieval.operating_point import OperatingTarget

    target = OperatingTarget(precision=args.target_precision if args.target_precision is not None else
                             (None if args.target_recall is not None or args.best_f1 else 0.9),
                             recall=args.target_recall, best_f1=args.best_f1)
    cfg = ColorVariantGroups(
        k=args.k, threshold=args.threshold, target_precision=target.precision or 0.9, guard=args.guard,
        diameter=args.diameter, edge_recall=args.edge_recall, rerank=_rerank(args), method=args.method,
        target=target,
    )
    previous = None
    if args.previous:
        from colorvariants.retrieval.group_ids import read_previous

        previous = read_previous(args.previous)  # read before grouping: a bad file fails fast
    result = cfg.find(es, index=index)
    changes = None
    if previous is not None:
        from colorvariants.retrieval.group_ids import carry_group_ids

        result.frame, changes = carry_group_ids(result.frame, previous)
    if args.summary:  # a run killed between the two writes must not leave the old summary beside new groups
        Path(args.summary).unlink(missing_ok=True)
    result.save(args.out)
    summary = result.summary()
    if changes is not None:
        summary["previous"] = {"path": str(args.previous), **changes}
    if args.summary:
        write_json(args.summary, summary)
    _print(result, args, changes)
    return 0


def _rerank(args: argparse.Namespace) -> str:
    """The similarity asked for; a bare --threshold keeps its old meaning (a cosine)."""
    if args.rerank is not None:
        return str(args.rerank)
    return "none" if args.threshold is not None else DEFAULT_RERANK


def _print(result: Any, args: argparse.Namespace, changes: dict[str, Any] | None) -> None:
    import json

    dist = result.size_distribution
    curve = result.curve
    how = "given"
    if curve is not None and curve.chosen is not None:
        p = curve.points[curve.chosen]
        how = (f"chosen for {curve.criterion} on {curve.extra['n_products_labelled']} labelled products: "
               f"pair precision {p.pair_precision:.3f}, recall {p.pair_recall:.1%}")
    print(f"threshold: {result.threshold:.4f} ({how}), method: {args.method}, rerank: {result.params['rerank']}, "
          f"guard: {args.guard}, k: {args.k}")
    if curve is not None:
        print(f"trade-off ({curve.method}): {curve.costs()}")
    print(f"groups: {dist['n_groups']} over {dist['n_items']} products ({dist['n_singletons']} singletons, "
          f"largest {dist['max_size']})")
    if result.metrics:
        print("metrics: " + json.dumps({k: round(v, 4) for k, v in result.metrics.items()}))
    if changes is not None:
        print(f"ids from {args.previous}: {changes['unchanged']} groups unchanged, {changes['kept_id']} kept their "
              f"id, {changes['new_ids']} new ids, {len(changes['merges'])} merges, {len(changes['splits'])} "
              f"splits, {len(changes['retired'])} ids retired, {changes['images_new']} new images")
    print(f"wrote {args.out} in {result.timings['total_s']:.1f}s")


register(
    "dedup", "group colour variants (kNN graph, calibrated threshold, chaining guard) for de-duplication",
    add_arguments, run,
)
