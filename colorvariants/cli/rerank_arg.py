"""The ``--rerank`` flag's argparse type: a re-ranker spec checked when the command line is read."""

from __future__ import annotations

import argparse


def rerank_spec(text: str) -> str:
    """``text`` when it names a re-ranker (``none``, ``csls``, ``kreciprocal:k1=10``, ...), else a usage error.

    Imports the re-rankers only when the flag is given, so ``--help`` stays free of faiss.
    """
    from colorvariants.retrieval.rerank import make_reranker

    try:
        make_reranker(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text
