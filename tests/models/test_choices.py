"""The model stage's allowed-value lists: each tuple is its Literal's values, and the registry follows the list."""

from __future__ import annotations

import typing

import pytest

from colorvariants.models import choices
from colorvariants.models.registry import METHODS, get_method, register_method


@pytest.mark.parametrize("literal, values", [
    (choices.MethodName, choices.METHOD_NAMES), (choices.Precision, choices.PRECISIONS),
    (choices.PartSource, choices.PART_SOURCES), (choices.CVSSLEmbedding, choices.CVSSL_EMBEDDINGS),
    (choices.TripletEmbedding, choices.TRIPLET_EMBEDDINGS),
])
def test_each_tuple_is_its_literals_values(literal: object, values: tuple[str, ...]) -> None:
    assert values == typing.get_args(literal) and len(set(values)) == len(values)


def test_every_listed_method_is_registered_and_nothing_else() -> None:
    get_method(choices.METHOD_NAMES[0])  # loads every method file
    assert sorted(METHODS) == sorted(choices.METHOD_NAMES)
    with pytest.raises(ValueError, match="METHOD_NAMES"):
        register_method("not-a-method")
