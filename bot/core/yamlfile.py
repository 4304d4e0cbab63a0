"""Reading one YAML data file, with the file (and the line) in the error a deploying team reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_yaml(path: Path, error: type[ValueError]) -> Any:
    """The parsed document of ``path``.

    Raises:
        error: the file cannot be read, or is not YAML (with its line when YAML says it).
    """
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise error(f"{path}{line}: invalid YAML") from exc
