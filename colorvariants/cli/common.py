"""Flags and helpers several sub-commands share (manifest + root, help with defaults, interrupts)."""

from __future__ import annotations

import _thread
import argparse
import contextlib
import copy
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from colorvariants.data.catalog import Catalog
from colorvariants.errors import ManifestError


def add_catalog_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``--manifest``, ``--root`` and ``--allow-outside-root``."""
    parser.add_argument("--manifest", type=Path, required=required, help="catalog manifest (.csv or .parquet)")
    parser.add_argument("--root", type=Path, default=None, help="image root (default: the manifest's folder)")
    parser.add_argument("--allow-outside-root", action="store_true",
                        help="allow image paths that resolve outside --root (off: such rows are errors)")


def load_catalog(args: argparse.Namespace) -> Catalog:
    """The catalog named by the common flags, structurally checked; a root that does not exist is one error."""
    check_root(args.root, args.manifest)
    return Catalog.load(args.manifest, args.root, allow_outside_root=args.allow_outside_root)


def check_root(root: Path | None, manifest: Path) -> None:
    """Refuse an image root that does not exist with one error (instead of one missing file per row)."""
    if root is not None and not Path(root).is_dir():
        raise ManifestError(f"the image root {str(root)!r} does not exist, so no image can be found.",
                            file=manifest, fix="pass --root the folder that image_path is relative to (default: "
                            "the manifest's folder).")


INTERRUPTED_TEXT = "interrupted: finished work is kept; rerun the same command to resume."


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that shows every option's default, unless the help text already says it or there is none to show."""

    def _format_action(self, action: argparse.Action) -> str:
        if not action.help and _shows_default(action):  # argparse prints nothing for an option without help
            action = copy.copy(action)
            action.help = "(default: %(default)s)"
        return super()._format_action(action)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = (action.help or "").strip()
        if not _shows_default(action) or "default" in text.lower():
            return text
        default = action.default
        shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else "%(default)s"
        return f"{text} (default: {shown})".strip()


def _shows_default(action: argparse.Action) -> bool:
    """Whether ``--help`` should state the option's default (not for flags, required or value-less options)."""
    default = action.default
    empty = default is None or default is False or default is argparse.SUPPRESS or (
        isinstance(default, (list, tuple)) and not default)
    return bool(action.option_strings) and not action.required and not empty and not isinstance(
        action, (argparse._HelpAction, argparse._VersionAction))


class CliParser(argparse.ArgumentParser):
    """The tool's parser: defaults in every ``--help``, sub-parsers (``index build``) included."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


@contextlib.contextmanager
def interrupts_noted(repeat_s: float = 3.0) -> Iterator[threading.Event]:
    """For the block, SIGINT sets the yielded event and raises ``KeyboardInterrupt``.

    Libraries that catch the interrupt and exit on their own (Lightning calls ``exit(1)`` after its graceful
    shutdown) still leave the event set, so every long command ends the same way: "interrupted", exit 130. An
    interrupt that lands in a finaliser (a file object's ``__del__``) is swallowed by Python, so after the first
    SIGINT the interrupt is raised again every ``repeat_s`` seconds until the block ends (a no-op once a library
    ignores SIGINT for its own shutdown).
    """
    event, done = threading.Event(), threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def repeat() -> None:
        while not done.wait(repeat_s):
            _thread.interrupt_main(signal.SIGINT)

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if not event.is_set():
            event.set()
            threading.Thread(target=repeat, name="cv-interrupt", daemon=True).start()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield event
    finally:
        done.set()
        signal.signal(signal.SIGINT, previous)
