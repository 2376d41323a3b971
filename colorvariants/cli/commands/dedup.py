"""``colorvariants dedup``: colour-variant groups of an embedding set, written as CSV, Parquet or JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorvariants.cli.registry import register


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embeddings", required=True, help="embedding-set folder")
    parser.add_argument("--index", default=None, help="index of these embeddings (default: build one)")
    parser.add_argument("--out", required=True, help="groups file: .csv, .parquet or .json (a row per image)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--threshold", type=float, default=None, help="cosine similarity an edge needs")
    how.add_argument("--target-precision", type=float, default=0.9,
                     help="calibrate the threshold on labelled styles to this pair precision (default 0.9)")
    parser.add_argument("--k", type=int, default=10, help="neighbours per image in the kNN graph")
    parser.add_argument("--guard", choices=("both", "mutual", "diameter", "none"), default="both",
                        help="chaining guard: mutual-kNN edges, group diameter check, both (default) or none")
    parser.add_argument("--diameter", type=float, default=None,
                        help="least similarity between any two group members (default: the threshold)")
    parser.add_argument("--edge-recall", type=float, default=0.99,
                        help="share of exact above-threshold neighbours the kNN search must find")
    parser.add_argument("--summary", default=None,
                        help="also write threshold, calibration and metrics as JSON here")


def run(args: argparse.Namespace) -> int:
    from colorvariants.outputs import claim_file

    with claim_file(args.out):  # one writer per groups file
        return _find_groups(args)


def _find_groups(args: argparse.Namespace) -> int:
    import json

    from colorvariants.io import write_json
    from colorvariants.retrieval.dedup import ColorVariantGroups
    from colorvariants.retrieval.store import EmbeddingSet

    es = EmbeddingSet.load(args.embeddings)
    index = None
    if args.index:
        from colorvariants.retrieval.index import load_index

        index = load_index(args.index, expected_dim=es.dim)
    cfg = ColorVariantGroups(
        k=args.k, threshold=args.threshold, target_precision=args.target_precision, guard=args.guard,
        diameter=args.diameter, edge_recall=args.edge_recall,
    )
    result = cfg.find(es, index=index)
    if args.summary:  # a run killed between the two writes must not leave the old summary beside new groups
        Path(args.summary).unlink(missing_ok=True)
    result.save(args.out)
    summary = result.summary()
    if args.summary:
        write_json(args.summary, summary)
    dist = result.size_distribution
    cal = result.calibration
    how = "given"
    if cal is not None:
        how = f"calibrated to precision {cal.precision:.3f} on {cal.n_labelled_pairs} labelled pairs"
    print(f"threshold: {result.threshold:.4f} ({how}), guard: {args.guard}, k: {args.k}")
    print(f"groups: {dist['n_groups']} over {dist['n_items']} products ({dist['n_singletons']} singletons, "
          f"largest {dist['max_size']})")
    if result.metrics:
        print("metrics: " + json.dumps({k: round(v, 4) for k, v in result.metrics.items()}))
    print(f"wrote {args.out} in {result.timings['total_s']:.1f}s")
    return 0


register(
    "dedup", "group colour variants (kNN graph, calibrated threshold, chaining guard) for de-duplication",
    add_arguments, run,
)
