"""Each allowed-value list of the retrieval stage is defined once and is exactly what its registry holds."""

from __future__ import annotations

import subprocess
import sys

import pytest

from colorvariants.retrieval import choices


def test_every_registry_holds_exactly_its_list() -> None:
    from colorvariants.retrieval.dedup import GUARDS
    from colorvariants.retrieval.index import INDEX_KINDS
    from colorvariants.retrieval.linkage import LINKAGES
    from colorvariants.retrieval.protocols import PROTOCOLS
    from colorvariants.retrieval.rerank import NO_RERANK, RERANKERS

    assert set(INDEX_KINDS) == set(choices.INDEX_KIND_NAMES)
    assert choices.INDEX_CHOICES == ("auto", *choices.INDEX_KIND_NAMES)
    assert set(GUARDS) == set(choices.GUARD_NAMES)
    assert set(LINKAGES) == set(choices.LINKAGE_NAMES)
    assert set(RERANKERS) == set(choices.RERANKER_NAMES) and NO_RERANK == choices.NO_RERANK
    assert set(PROTOCOLS) == set(choices.PROTOCOL_NAMES)


def test_an_unlisted_name_is_refused() -> None:
    choices.check_listed("flat", choices.INDEX_KIND_NAMES, "index kind")
    with pytest.raises(ValueError, match="index kind 'annoy' is not listed"):
        choices.check_listed("annoy", choices.INDEX_KIND_NAMES, "index kind")


def test_cli_offers_every_listed_value() -> None:
    from colorvariants.cli.commands import dedup, evaluate
    from colorvariants.cli.main import build_parser

    parser = build_parser()
    for kind in choices.INDEX_CHOICES:
        assert parser.parse_args(["index", "build", "--embeddings", "e", "--out", "o", "--kind", kind]).kind == kind
    for guard in choices.GUARD_NAMES:
        assert parser.parse_args(["dedup", "--embeddings", "e", "--out", "o", "--guard", guard]).guard == guard
    for method in choices.LINKAGE_NAMES:
        assert parser.parse_args(["dedup", "--embeddings", "e", "--out", "o", "--method", method]).method == method
    for name in choices.PROTOCOL_NAMES:
        assert parser.parse_args(["evaluate", "--embeddings", "e", "--out", "o", "--protocol", name]).protocol == name
    assert dedup.LINKAGE_CHOICES == choices.LINKAGE_NAMES and evaluate.PROTOCOL_CHOICES == choices.PROTOCOL_NAMES


def test_importing_the_lists_loads_no_faiss() -> None:
    code = "import sys, colorvariants.retrieval.choices; print('faiss' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_add_to_registry_refuses_unlisted_and_twice() -> None:
    registry: dict[str, int] = {}
    assert choices.add_to_registry(registry, "flat", 1, choices.INDEX_KIND_NAMES, "index kind") == 1
    with pytest.raises(ValueError, match="index kind 'flat' registered twice"):
        choices.add_to_registry(registry, "flat", 2, choices.INDEX_KIND_NAMES, "index kind")
    with pytest.raises(ValueError, match="not listed"):
        choices.add_to_registry(registry, "annoy", 3, choices.INDEX_KIND_NAMES, "index kind")
    assert registry == {"flat": 1}
