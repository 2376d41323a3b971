"""Shared fixtures: small synthetic catalogs generated once per session (the project makes its own data), and the
CLI run in a subprocess (``cli``) or killed mid-run (``kill_cli``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 styles at 48 px with masks and bboxes: enough for every stage to run in seconds."""
    from colorvariants.data.synth import SynthConfig, write_synthetic_catalog

    out = tmp_path_factory.mktemp("tiny_catalog")
    return write_synthetic_catalog(out, SynthConfig(styles=24, seed=3, size=48), progress=False)


@pytest.fixture(scope="session")
def small_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """80 styles at 64 px: big enough for recall@1 to move when a method learns."""
    from colorvariants.data.synth import SynthConfig, write_synthetic_catalog

    out = tmp_path_factory.mktemp("small_catalog")
    return write_synthetic_catalog(out, SynthConfig(styles=80, seed=5, size=64), progress=False)


# -- running the CLI in a subprocess, and killing it mid-run (fault-injection tests) ---------------------------
CLI_ENV = {**os.environ, "WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1"}


CLI = (sys.executable, "-m", "colorvariants")


def run_cli(
    *args: str, timeout: int = 400, check: bool = True, launcher: Sequence[str] = CLI, **kwargs: Any
) -> subprocess.CompletedProcess:
    """``python -m colorvariants ARGS`` in a fresh process; with ``check`` a non-zero exit fails the test.

    ``launcher`` replaces ``python -m colorvariants`` (e.g. a wrapper that kills the run at a chosen point);
    other keyword arguments go to ``subprocess.run`` (e.g. ``preexec_fn`` to set resource limits).
    """
    out = subprocess.run([*launcher, *args], env=CLI_ENV, capture_output=True, text=True, timeout=timeout,
                         **kwargs)
    if check:
        assert out.returncode == 0, f"{args[0]} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


def kill_cli_when(args: Sequence[str], ready: Callable[[], bool], *, timeout: float = 120) -> bool:
    """Start ``python -m colorvariants ARGS`` in its own session and SIGKILL the whole group once ``ready()``.

    ``ready`` polls the disk (a temp file appeared, N shards or journal lines exist), so the kill lands at a
    point of the run rather than after a guessed sleep. Returns True when killed, False when the run ended
    first (the caller then recreates the state a kill would leave, or fails).
    """
    proc = subprocess.Popen([*CLI, *args], env=CLI_ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    killed = False
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if ready():
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.002)
    else:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            raise AssertionError(f"{args[0]} neither finished nor reached the kill point in {timeout}s")
    proc.wait(timeout=60)
    _wait_until_gone(proc.pid)
    return killed and proc.returncode == -signal.SIGKILL


def _wait_until_gone(pgid: int, timeout: float = 10.0) -> None:
    """Wait until no live process is left in group ``pgid`` (killed workers exit a moment after the parent)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)


@pytest.fixture(scope="session")
def cli() -> Callable[..., subprocess.CompletedProcess]:
    """``run_cli``: the CLI in a subprocess, failing the test on a non-zero exit."""
    return run_cli


@pytest.fixture(scope="session")
def kill_cli() -> Callable[..., bool]:
    """``kill_cli_when``: start the CLI and SIGKILL it at a point of the run."""
    return kill_cli_when


def _replace_in_place(path: Path) -> Any:
    """Overwrite the image at ``path`` (same path, format and size in pixels) with plain blue; the new image.

    The mtime is set 10 s past both the old one and now (as a real replacement would be the newest write), so
    no test passes or fails by two writes landing in one timestamp tick.
    """
    from PIL import Image

    before = path.stat()
    with Image.open(path) as old:
        new = Image.new("RGB", old.size, (0, 0, 255))
    new.save(path)
    mtime = max(before.st_mtime_ns, time.time_ns()) + 10_000_000_000
    os.utime(path, ns=(before.st_atime_ns, mtime))
    return new


@pytest.fixture
def replace_in_place() -> Callable[[Path], Any]:
    """``replace_in_place(path)``: an image replaced in place by new pixels (what a catalog update does)."""
    return _replace_in_place
