"""A defect found in a data file the support team edits, reported with its file and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One defect found in a data file (a troubleshooting guide, a help-center article).

    Attributes:
        file: The file.
        line: 1-based line the defect is reported at.
        code: Stable machine-readable kind, e.g. ``unknown_reference``.
        message: Human-readable explanation.
    """

    file: Path
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        """Return ``file:line: message [code]``."""
        return f"{self.file}:{self.line}: {self.message} [{self.code}]"
