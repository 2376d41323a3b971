"""Exceptions with a message a user can act on: which file, which row, and the fix.

One convention for the fix: it is a structured field (``error.fix``), passed as ``fix=`` and never pasted into
the message; ``str(error)`` renders ``"<message> Fix: <fix>"`` (``with_fix``), the one line the CLI prints.
"""

from __future__ import annotations

from pathlib import Path


def with_fix(message: str, fix: str) -> str:
    """``message`` followed by ``" Fix: <fix>"`` when there is a fix: how every error and problem reads."""
    return f"{message} Fix: {fix}" if fix else message


class ColorVariantsError(Exception):
    """Base class: every error the tool raises on purpose is one of these (the CLI prints it without a trace).

    Args:
        message: what is wrong, naming the file (and row) it is about.
        fix: what the user can do about it; kept apart in ``.fix`` and appended to ``str(error)``.
    """

    def __init__(self, message: str = "", *, fix: str = "") -> None:
        self.message = message
        self.fix = fix
        super().__init__(with_fix(message, fix))


class ManifestError(ColorVariantsError):
    """The manifest cannot be used as it is."""

    def __init__(self, message: str, *, file: str | Path | None = None, row: int | None = None, fix: str = ""):
        self.file = str(file) if file is not None else None
        self.row = row
        where = []
        if self.file:
            where.append(self.file)
        if row is not None:
            where.append(f"row {row}")
        super().__init__(": ".join([", ".join(where), message]) if where else message, fix=fix)


class ImageLoadError(ColorVariantsError):
    """An image file cannot be decoded into RGB pixels."""

    def __init__(self, path: str | Path, reason: str, fix: str = "", row: int | None = None):
        self.path = str(path)
        self.reason = reason
        self.row = row
        text = f"{self.path}"
        if row is not None:
            text += f" (manifest row {row})"
        super().__init__(f"{text}: {reason}", fix=fix)


class CheckpointError(ColorVariantsError):
    """A checkpoint or weights file is missing, untrusted or of the wrong shape."""


class IndexFileError(ColorVariantsError):
    """An index or id-map file is missing, corrupt, or does not match the embeddings."""


class EmbeddingError(ColorVariantsError):
    """Embeddings hold NaN/inf, zero vectors, or do not match their id table."""
