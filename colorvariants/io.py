"""Atomic file writing: every file the tool writes appears whole or not at all (temp file, fsync, rename).

A temporary file is named ``.{dest name}~{host}~{pid}~{random}{suffix}`` beside its destination. A process
killed mid-write (SIGKILL, power loss) leaves it behind; the next write of the same destination removes those
left by processes of this host that are gone, so repeated crashes never pile up gigabytes of dead temp files,
and a reader, which opens only the final names, never sees one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from colorvariants.errors import ColorVariantsError


class DiskFullError(ColorVariantsError):
    """The disk filled up while writing; the destination was left untouched."""


# errno values that mean "no room for this file": a full disk, a full quota, a file-size limit (ulimit -f).
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_DISK_FULL_TEXT = tuple(os.strerror(e) for e in DISK_FULL_ERRNOS)
_HOST = socket.gethostname().replace("~", "_") or "host"
# mkstemp creates files 0600; outputs get the mode a plain open() would give them (0666 minus the umask), so an
# index or embedding set written by one user stays readable by the team. Read once: os.umask can only be read by
# setting it.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (quota, file-size limit) is full.

    Looks at ``errno`` and, for libraries that turn the OS error into text (FAISS raises ``RuntimeError``
    "... No space left on device"), at the message.
    """
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return True
    return any(text in str(exc) for text in _DISK_FULL_TEXT)


def disk_full_error(dest: str | Path, exc: BaseException) -> DiskFullError:
    """The message for a write of ``dest`` that ran out of room: which file, that nothing was overwritten, the fix."""
    return DiskFullError(
        f"{dest}: no space left while writing ({exc}); nothing was overwritten. "
        "Fix: free disk space (or raise the quota / `ulimit -f`) or choose another --out, then rerun "
        "(finished work is kept)."
    )


@contextlib.contextmanager
def atomic_path(dest: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success fsync it and rename it over ``dest``.

    On any error the temporary file is removed and ``dest`` keeps its old content (or stays absent).
    ``suffix`` keeps an extension for writers that insist on one (``np.save``, FAISS).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(dest)
    prefix = f".{dest.name}~{_HOST}~{os.getpid()}~"
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=(suffix or ".tmp"), dir=dest.parent)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(dest, exc) from exc
        raise
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except DiskFullError:
        tmp.unlink(missing_ok=True)
        raise
    except Exception as exc:
        full = is_disk_full(exc) or (isinstance(exc, (OSError, RuntimeError)) and _no_room_left(tmp))
        tmp.unlink(missing_ok=True)
        if full:
            raise disk_full_error(dest, exc) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def disk_full_as_error(path: str | Path) -> Iterator[None]:
    """Turn a full-disk ``OSError`` raised in the block (appending to a log or journal in place) into a
    ``DiskFullError`` naming ``path``; readers of such files must already tolerate a torn last line."""
    try:
        yield
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(path, exc) from exc
        raise


def _no_room_left(path: Path, probe_bytes: int = 65_536) -> bool:
    """Whether appending ``probe_bytes`` to ``path`` fails for lack of room.

    Some writers report a full disk without an errno (NumPy: "800000 requested and 24968 written"); a
    write failure that this probe repeats is a full disk (or file-size limit).
    """
    try:
        with open(path, "ab") as fh:
            fh.write(b"\0" * probe_bytes)
            fh.flush()
    except OSError as exc:
        return is_disk_full(exc)
    return False


def temp_files_of(dest: str | Path) -> list[Path]:
    """The temporary files ``atomic_path`` made for ``dest`` that are still on disk (any process)."""
    dest = Path(dest)
    if not dest.parent.is_dir():
        return []
    return sorted(dest.parent.glob(f".{glob_escape(dest.name)}~*~*~*"))


def remove_stale_temps(dest: str | Path) -> list[Path]:
    """Delete temp files of ``dest`` left by processes of this host that no longer run; return them.

    Temps of live processes (a concurrent writer) and of other hosts (a shared file system) are kept.
    """
    removed = []
    for tmp in temp_files_of(dest):
        parts = tmp.name[len(Path(dest).name) + 2 :].split("~")
        if len(parts) < 3 or parts[0] != _HOST or not parts[1].isdigit():
            continue
        if pid_alive(int(parts[1])):
            continue
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def process_temp_path(dest: str | Path, suffix: str = "") -> Path:
    """A temp path for ``dest`` unique to this process (``remove_stale_temps`` clears it once the process is gone).

    For writers that keep their temp file open across calls (a memory-mapped partial array), where
    ``atomic_path``'s block does not fit; stale temps of dead processes of this host are removed first.
    """
    dest = Path(dest)
    remove_stale_temps(dest)
    return dest.parent / f".{dest.name}~{_HOST}~{os.getpid()}~{os.urandom(4).hex()}{suffix}"


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed but not yet reaped, does not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS): trust kill(0)
        return True
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def create_npy(path: str | Path, dtype: np.dtype | type, shape: tuple[int, ...]) -> np.memmap:
    """Create a ``.npy`` file of ``shape`` with its disk space reserved up front and map it for writing.

    ``np.lib.format.open_memmap`` makes a sparse file: on a full disk the failure comes later, as a SIGBUS that
    kills the process on the first page that cannot be backed. Reserving the blocks first
    (``posix_fallocate``) turns that into a clear ``DiskFullError`` before any work is done.
    """
    path = Path(path)
    try:
        arr = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
        _reserve(path)
    except OSError as exc:
        path.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise disk_full_error(path, exc) from exc
        raise
    return arr


def _reserve(path: Path) -> None:
    """Allocate every block of ``path`` now; a no-op where the file system cannot (it then stays sparse)."""
    size = path.stat().st_size
    if not hasattr(os, "posix_fallocate") or size == 0:
        return
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(dest: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file for writing (binary or text, as ``mode`` says) that replaces ``dest`` only when the
    block ends without error."""
    with atomic_path(dest) as tmp, open(tmp, mode) as fh:
        yield fh


def write_json(dest: str | Path, obj: Any) -> None:
    """Write JSON atomically (sorted keys off: order is the reader's order)."""
    with atomic_open(dest, "w") as fh:
        json.dump(obj, fh, indent=2, default=_json_default)
        fh.write("\n")


def write_text(dest: str | Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_open(dest, "w") as fh:
        fh.write(text)


def save_npy(dest: str | Path, array: np.ndarray) -> None:
    """Save a ``.npy`` atomically."""
    with atomic_path(dest, suffix=".npy") as tmp:
        np.save(tmp, array)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
