"""Helpers every bench script shares: the CPU's name and rewriting one section of BENCHMARKS.md."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

from colorvariants.io import write_text


def cpu_model() -> str:
    """The CPU's model name (lscpu, else /proc/cpuinfo), for the machine line of every figure."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def replace_section(path: Path, section: str, body: str) -> None:
    """Replace (or append) the ``section`` heading's block of BENCHMARKS.md, keeping every other section."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == section), None)
    if start is None:
        new = text.rstrip("\n") + "\n\n" + body.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        rest = [""] + lines[end:] if end < len(lines) else []
        new = "\n".join(lines[:start] + body.rstrip("\n").splitlines() + rest).rstrip("\n") + "\n"
    write_text(path, new)
