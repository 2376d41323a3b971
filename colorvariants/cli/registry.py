"""Registry of sub-commands: a command module calls ``register`` at import; ``main`` discovers the modules."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One sub-command: its name, one-line help, how it adds its flags, and what it runs (returns an exit code)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]


COMMANDS: dict[str, Command] = {}


def register(
    name: str,
    help: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int | None],
) -> Command:
    """Add a sub-command. Keep heavy imports (torch, faiss) inside ``run`` so ``--help`` stays instant."""
    if name in COMMANDS:
        raise ValueError(f"sub-command {name!r} registered twice")
    cmd = Command(name, help, add_arguments, run)
    COMMANDS[name] = cmd
    return cmd
