"""Output folders that cannot be mixed up: each carries its kind, has one writer at a time, and says what made it.

Every command that writes a folder ``claim``s it: the folder is refused when it holds another kind of output
(``index build --out`` an embedding set), or when another live process writes it ("in use by PID ..."); otherwise
a kind marker (``.colorvariants-output``) is written and a lock (``.colorvariants.lock``, an ``flock`` plus the
holder's PID) is held until the command ends. The kernel drops the ``flock`` of a process that dies, so a lock
left by a killed run is simply taken over (where a file system has no ``flock``, the PID is checked as
``io.remove_stale_temps`` does: a dead process of this host holds nothing). ``producer_mismatch`` compares two records of what produced an output
(model hash, manifest fingerprint, image size, ...) and names the keys that differ.

>>> with claim("runs/emb", "embeddings"):      # doctest: +SKIP
...     ...                                    # write the embedding set
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from colorvariants.errors import ColorVariantsError
from colorvariants.io import pid_alive, write_json

KIND_FILE = ".colorvariants-output"
LOCK_FILE = ".colorvariants.lock"

# kind -> (what it is, the command that writes it), in the user's words.
KINDS: dict[str, tuple[str, str]] = {
    "embeddings": ("an embedding set", "colorvariants embed"),
    "index": ("an index", "colorvariants index build"),
    "preprocess": ("a preprocessed catalog", "colorvariants preprocess"),
    "fit-run": ("a fit run", "colorvariants fit"),
    "benchmark": ("a benchmark", "colorvariants benchmark"),
}
# meta.json "format" values of folders written before kind markers existed.
_FORMATS = {"colorvariants.embeddings": "embeddings", "colorvariants.index": "index"}


class OutputKindError(ColorVariantsError):
    """The output folder holds another kind of output than the command writes."""


class OutputInUseError(ColorVariantsError):
    """Another live process is writing the same output folder."""


class OutputMismatchError(ColorVariantsError):
    """The output folder holds (part of) an output made from other inputs than this run's."""


def found_kind(folder: str | Path) -> str | None:
    """The kind of output ``folder`` holds (marker first, then files of older versions), or None."""
    folder = Path(folder)
    marker = folder / KIND_FILE
    if marker.is_file():
        with contextlib.suppress(OSError, ValueError, AttributeError):
            return str(json.loads(marker.read_text()).get("kind")) or None
    meta = folder / "meta.json"
    if meta.is_file():
        with contextlib.suppress(OSError, ValueError, AttributeError):
            found = _FORMATS.get(json.loads(meta.read_text()).get("format"))
            if found:
                return found
    if (folder / "config.yaml").is_file() and ((folder / "checkpoints").is_dir() or (folder / "model.pt").is_file()):
        return "fit-run"
    if (folder / "preprocess.json").is_file():
        return "preprocess"
    return None


def check_kind(folder: str | Path, kind: str, flag: str = "--out") -> None:
    """Refuse ``folder`` when it holds another kind of output than ``kind`` (``flag``: the option naming it)."""
    found = found_kind(folder)
    if found is not None and found != kind:
        what, by = KINDS.get(found, (f"a {found!r} output", "another command"))
        raise OutputKindError(
            f"{folder}: holds {what} (written by `{by}`), not {KINDS[kind][0]}; writing here would overwrite it. "
            f"Fix: pass a new folder as {flag} (or one written by `{KINDS[kind][1]}`)."
        )


def mark_kind(folder: str | Path, kind: str) -> None:
    """Write the kind marker of ``folder`` (atomically; once; ``check_kind`` has passed)."""
    if not (Path(folder) / KIND_FILE).is_file():
        write_json(Path(folder) / KIND_FILE, {"kind": kind})


def is_worker_rank() -> bool:
    """Whether this process is a non-zero rank of a distributed run (rank 0 holds the folder for all ranks)."""
    ranks = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")
    return any(os.environ.get(var, "0") not in ("", "0") for var in ranks)


@contextlib.contextmanager
def folder_lock(lock_path: str | Path, what: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` for the block; a live holder makes it raise ``OutputInUseError``."""
    import fcntl

    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        holder = os.pread(fd, 200, 0).decode(errors="replace").split()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _in_use(what, holder) from None
        except OSError:  # no flock on this file system (some network mounts): trust a live PID of this host
            if len(holder) > 1 and holder[1] == socket.gethostname() and holder[0].isdigit() \
                    and int(holder[0]) != os.getpid() and pid_alive(int(holder[0])):
                raise _in_use(what, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # released: an empty lock file (a finished folder's bytes do not name a PID)
    finally:
        os.close(fd)  # closing drops the flock; the file stays (removing it would race a second writer)


def _in_use(what: str | Path, holder: list[str]) -> OutputInUseError:
    pid = holder[0] if holder else "?"
    host = holder[1] if len(holder) > 1 else "?"
    return OutputInUseError(
        f"{what}: in use by PID {pid} on {host} (another colorvariants command writes it). "
        "Fix: wait for that command to finish, or write elsewhere."
    )


@contextlib.contextmanager
def claim(folder: str | Path, kind: str, flag: str = "--out") -> Iterator[Path]:
    """Check ``folder``'s kind, lock it against other writers and mark its kind, for the block.

    ``flag`` is the command's option that names the folder, for the messages.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}; known: {sorted(KINDS)}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputKindError(f"{folder}: is a file, not a folder. Fix: pass a folder as {flag}.")
    check_kind(folder, kind, flag)
    if is_worker_rank():
        yield folder
        return
    folder.mkdir(parents=True, exist_ok=True)
    with folder_lock(folder / LOCK_FILE, folder):
        check_kind(folder, kind, flag)  # a writer may have marked it while we waited for the lock
        mark_kind(folder, kind)
        yield folder


@contextlib.contextmanager
def claim_file(path: str | Path) -> Iterator[Path]:
    """Lock the output file ``path`` (a lock file beside it) against a second writer, for the block."""
    path = Path(path)
    if path.is_dir():
        raise OutputKindError(f"{path}: is a folder, not a file. Fix: pass a file name as --out.")
    if is_worker_rank():
        yield path
        return
    with folder_lock(path.parent / f".{path.name}.lock", path):
        yield path


def producer_mismatch(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """Keys whose values differ between two producer records, as "key: old -> new" (empty when equal)."""
    if old is None:
        return ["no record of what produced it (written by an older colorvariants or another tool)"]
    diffs = []
    for key in sorted(set(old) | set(new), key=lambda k: (k not in new, k)):
        if old.get(key) != new.get(key):
            diffs.append(f"{key}: {_short(old.get(key))} -> {_short(new.get(key))}")
    return diffs


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:16] + "…" + text[-8:]
