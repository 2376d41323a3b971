"""The allowed values of the retrieval stage's options, each list defined once: a ``Literal`` and its tuple.

Configs and functions are typed with the ``Literal``s, the CLI takes its argparse choices (and the names in its
help) from the tuples, and every registry (``INDEX_KINDS``, ``LINKAGES``, ``RERANKERS``, ``PROTOCOLS``, dedup's
``GUARDS``) refuses a name that is not listed here (``check_listed``; ``add_to_registry`` fills them), so
``--help``, validation and code cannot disagree. Adding a value is one edit here plus its registry entry. This module imports nothing but ``typing``,
so ``colorvariants --help`` loads no faiss.

>>> INDEX_CHOICES
('auto', 'flat', 'ivf', 'hnsw', 'ivfpq')
"""

from __future__ import annotations

from typing import Literal, TypeVar, get_args

T = TypeVar("T")

# FAISS index kinds (``retrieval.index``, one module each), and what ``index build --kind`` accepts.
IndexKindName = Literal["flat", "ivf", "hnsw", "ivfpq"]
INDEX_KIND_NAMES: tuple[IndexKindName, ...] = get_args(IndexKindName)
IndexChoice = Literal["auto", IndexKindName]
INDEX_CHOICES: tuple[IndexChoice, ...] = get_args(IndexChoice)

# Chaining guards of dedup's components (``retrieval.dedup.GUARDS``).
Guard = Literal["both", "mutual", "diameter", "none"]
GUARD_NAMES: tuple[Guard, ...] = get_args(Guard)

# Grouping methods on the kNN graph (``retrieval.linkage.LINKAGES``).
LinkageName = Literal["components", "average", "complete"]
LINKAGE_NAMES: tuple[LinkageName, ...] = get_args(LinkageName)

# Re-rankers (``retrieval.rerank.RERANKERS``); ``none`` means plain cosine wherever one is chosen.
RerankerName = Literal["csls", "kreciprocal", "dba", "qe"]
RERANKER_NAMES: tuple[RerankerName, ...] = get_args(RerankerName)
NO_RERANK: Literal["none"] = "none"

# Evaluation protocols (``retrieval.protocols.PROTOCOLS``).
ProtocolName = Literal["default", "inshop"]
PROTOCOL_NAMES: tuple[ProtocolName, ...] = get_args(ProtocolName)


def check_listed(name: str, listed: tuple[str, ...], what: str) -> None:
    """Refuse to register ``name`` when the list of its kind here lacks it (the CLI would not offer it).

    Raises:
        ValueError: ``name`` is not in ``listed``.
    """
    if name not in listed:
        raise ValueError(
            f"{what} {name!r} is not listed in colorvariants.retrieval.choices ({', '.join(listed)}); "
            "add it there so the CLI and the configs accept it."
        )


def add_to_registry(registry: dict[str, T], name: str, item: T, listed: tuple[str, ...], what: str) -> T:
    """File ``item`` under ``name`` in ``registry``: how every registry of the retrieval stage is filled.

    Raises:
        ValueError: ``name`` is not in ``listed`` (``check_listed``), or is registered already.
    """
    check_listed(name, listed, what)
    if name in registry:
        raise ValueError(f"{what} {name!r} registered twice")
    registry[name] = item
    return item
