"""A problem found in a manifest or an image: where it is, what is wrong, and how to fix it.

Like the errors of ``colorvariants.errors``, the fix is a field of its own (``Problem.fix``); ``str()`` appends it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from colorvariants.errors import ImageLoadError, with_fix

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding of validation. ``row`` is the 1-based data row of the manifest (header not counted)."""

    severity: Severity
    code: str
    message: str
    fix: str = ""
    row: int | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.file:
            where.append(self.file)
        head = f"[{self.severity}] {self.code}"
        if where:
            head += f" ({', '.join(where)})"
        return with_fix(f"{head}: {self.message}", self.fix)

    @classmethod
    def from_image_error(cls, exc: ImageLoadError, prefix: str = "") -> Problem:
        """The error-level problem of an unreadable image: its ``code`` (``prefix`` first), reason, fix and row."""
        code = getattr(exc, "code", "unreadable-image")
        return cls("error", prefix + code, exc.reason, fix=exc.fix, row=exc.row, file=exc.path)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
