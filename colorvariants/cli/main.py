"""Entry point of the ``colorvariants`` command: discovers sub-commands and turns known errors into messages."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from colorvariants import __version__
from colorvariants.cli import commands as commands_pkg
from colorvariants.cli.common import INTERRUPTED_TEXT, CliParser, interrupts_noted
from colorvariants.cli.registry import COMMANDS
from colorvariants.errors import ColorVariantsError


def _load_commands() -> None:
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands_pkg.__name__}.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every registered sub-command (each ``--help`` shows every option's default)."""
    _load_commands()
    parser = CliParser(
        prog="colorvariants",
        description="Train and evaluate colour-variant embeddings; export FAISS indexes and variant groups.",
    )
    parser.add_argument("--version", action="version", version=f"colorvariants {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in sorted(COMMANDS):
        cmd = COMMANDS[name]
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; a ``ColorVariantsError`` prints one clear line (no traceback) and exits 2, an interrupt
    (Ctrl-C, SIGINT) says that finished work is kept and exits 130."""
    os.environ.setdefault("WANDB_SILENT", "true")
    try:
        with interrupts_noted() as interrupted:
            try:
                args = build_parser().parse_args(argv)
                code = args._run(args)
            except BaseException as exc:
                if interrupted.is_set() or isinstance(exc, KeyboardInterrupt):
                    print(INTERRUPTED_TEXT, file=sys.stderr)
                    return 130
                raise
    except ColorVariantsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
