"""CLI flags that mirror config keys: one table per command makes both the argparse options and the overrides.

A ``ConfigFlag`` names the dotted config key it sets (``trainer.max_epochs``); the flag (``--max-epochs``) and
its ``dest`` come from the key's last part, and a flag without a default of its own says in ``--help`` which key
of ``--config`` it defaults to. Adding a knob is one table row here plus the dataclass field (and its YAML, if
the shipped configs set it); tests/cli/test_config_flags.py checks every row against its dataclass field (type,
choices) so the two cannot drift. No heavy import here: ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConfigFlag:
    """One option that sets config key ``key`` (``section.field``) when given; ``None`` leaves the config's value."""

    key: str
    type: Callable[[str], Any] | None = None  # argparse's type: int, float, or None for text
    help: str | None = None
    choices: Sequence[str] | None = None

    @property
    def dest(self) -> str:
        """The argparse destination: the key's field name (``trainer.max_epochs`` -> ``max_epochs``)."""
        return self.key.rsplit(".", 1)[-1]

    @property
    def option(self) -> str:
        """The command-line option (``--max-epochs``)."""
        return "--" + self.dest.replace("_", "-")


def add_config_flags(parser: argparse.ArgumentParser, flags: Iterable[ConfigFlag]) -> None:
    """Add each flag as an option without a default; its help says which config key it defaults to, unless the
    help text already speaks of its default."""
    for flag in flags:
        text = flag.help
        if "default" not in (text or "").lower():
            text = f"{text or ''} (default: {flag.key} of --config)".strip()
        kwargs: dict[str, Any] = {"help": text}
        if flag.type is not None:
            kwargs["type"] = flag.type
        if flag.choices is not None:
            kwargs["choices"] = list(flag.choices)
        parser.add_argument(flag.option, **kwargs)


def flag_overrides(args: argparse.Namespace, flags: Iterable[ConfigFlag]) -> list[str]:
    """``key=value`` overrides (``config.apply_overrides``' form) for the flags given on the command line."""
    out = []
    for flag in flags:
        value = getattr(args, flag.dest, None)
        if value is not None:
            out.append(f"{flag.key}={value}")
    return out
