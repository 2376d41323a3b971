"""Run the ``colorvariants`` CLI and SIGKILL it at an exact point: around the rename that puts a file in place.

Usage: ``python kill_at.py PATTERN WHEN N -- CLI ARGS...``. Every file the tool writes is renamed into place by
``colorvariants.io.atomic_path`` (``os.replace``); on the ``N``-th rename whose destination name matches the glob
``PATTERN``, the process kills itself with SIGKILL ``before`` the rename (the temp file is complete, the
destination not yet there) or ``after`` it (the destination is complete, what follows is not). SIGKILL cannot be
caught, so no ``finally``, ``atexit`` or context manager runs: the disk is left exactly as a ``kill -9`` (or a power
cut after the last fsync) at that instant leaves it. Only this process is patched; worker processes are not.
"""

from __future__ import annotations

import fnmatch
import os
import signal
import sys
from typing import Any


def main() -> int:
    pattern, when, nth, sep, *argv = sys.argv[1:]
    if when not in ("before", "after") or sep != "--":
        raise SystemExit(__doc__)
    remaining = int(nth)
    real_replace = os.replace

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal remaining
        hit = fnmatch.fnmatch(os.path.basename(os.fspath(dst)), pattern)
        if hit:
            remaining -= 1
        if hit and remaining == 0 and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst, *args, **kwargs)
        if hit and remaining == 0 and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace  # type: ignore[assignment]
    from colorvariants.cli.main import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
