"""Exceptions with a message a user can act on: which file, which row, and the fix."""

from __future__ import annotations

from pathlib import Path


class ColorVariantsError(Exception):
    """Base class: every error the tool raises on purpose is one of these (the CLI prints it without a trace)."""


class ManifestError(ColorVariantsError):
    """The manifest cannot be used as it is."""

    def __init__(self, message: str, *, file: str | Path | None = None, row: int | None = None, fix: str = ""):
        self.file = str(file) if file is not None else None
        self.row = row
        self.fix = fix
        where = []
        if self.file:
            where.append(self.file)
        if row is not None:
            where.append(f"row {row}")
        text = (": ".join([", ".join(where), message]) if where else message)
        if fix:
            text += f" Fix: {fix}"
        super().__init__(text)


class ImageLoadError(ColorVariantsError):
    """An image file cannot be decoded into RGB pixels."""

    def __init__(self, path: str | Path, reason: str, fix: str = "", row: int | None = None):
        self.path = str(path)
        self.reason = reason
        self.fix = fix
        self.row = row
        text = f"{self.path}"
        if row is not None:
            text += f" (manifest row {row})"
        text += f": {reason}"
        if fix:
            text += f" Fix: {fix}"
        super().__init__(text)


class CheckpointError(ColorVariantsError):
    """A checkpoint or weights file is missing, untrusted or of the wrong shape."""


class IndexFileError(ColorVariantsError):
    """An index or id-map file is missing, corrupt, or does not match the embeddings."""


class EmbeddingError(ColorVariantsError):
    """Embeddings hold NaN/inf, zero vectors, or do not match their id table."""
