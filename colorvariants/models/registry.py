"""METHODS: every training method's name -> its LightningModule class.

The names are ``choices.METHOD_NAMES`` (light, for the CLI), each the file ``models/<name>.py`` whose module is
decorated with ``@register_method(name)``; ``get_method`` imports them on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from colorvariants.models.choices import METHOD_NAMES

if TYPE_CHECKING:
    from colorvariants.models.base import EmbeddingModule

METHODS: dict[str, type[EmbeddingModule]] = {}


def register_method(name: str) -> Callable[[type[EmbeddingModule]], type[EmbeddingModule]]:
    """Class decorator: ``@register_method("cvssl")`` adds the module under that name (one of METHOD_NAMES)."""
    if name not in METHOD_NAMES:
        raise ValueError(f"method {name!r} is not listed in colorvariants.models.choices.METHOD_NAMES")

    def deco(cls: type[EmbeddingModule]) -> type[EmbeddingModule]:
        cls.method_name = name
        METHODS[name] = cls
        return cls

    return deco


def _load_all() -> None:
    for mod in METHOD_NAMES:  # each method's file is named after it
        importlib.import_module(f"colorvariants.models.{mod}")


def get_method(name: str) -> type[EmbeddingModule]:
    """The module class of a method; unknown names raise ``ValueError`` listing the known ones."""
    _load_all()
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {sorted(METHODS)}")
    return METHODS[name]


def build_method(name: str, config: dict[str, Any] | None = None) -> EmbeddingModule:
    """A fresh module of method ``name`` from a plain config dict (as saved in YAML or checkpoints)."""
    from colorvariants.config import from_dict

    cls = get_method(name)
    return cls(from_dict(cls.config_class, config or {}, where="model."))
