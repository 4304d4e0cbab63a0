"""Customer-facing texts of the gateway, read from ``data/texts.yml``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REQUIRED_KEYS = ("dialogue_unavailable", "message_too_long", "rate_limited", "bad_frame", "handoff_closed_silent")


class TextsError(ValueError):
    """``texts.yml`` is missing, malformed or lacks a required key."""


@dataclass(frozen=True)
class Texts:
    """The gateway's own customer-facing texts."""

    dialogue_unavailable: str
    message_too_long: str
    rate_limited: str
    bad_frame: str
    handoff_closed_silent: str


def read_section(path: Path, section: str) -> dict[str, Any]:
    """Read one top-level mapping of a texts file (``texts:``, ``catalog:``).

    Args:
        path: The YAML file, e.g. ``data/texts.yml``.
        section: The top-level key.

    Returns:
        The mapping under that key.

    Raises:
        TextsError: with the file name (and line, for YAML syntax errors).
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TextsError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise TextsError(f"{path}{where}: invalid YAML") from exc
    mapping = document.get(section) if isinstance(document, dict) else None
    if not isinstance(mapping, dict):
        raise TextsError(f"{path}: expected a top-level '{section}:' mapping")
    return mapping


def load_texts(path: Path) -> Texts:
    """Read and check ``texts.yml``.

    Raises:
        TextsError: with the file name (and line, for YAML syntax errors).
    """
    texts = read_section(path, "texts")
    missing = [key for key in REQUIRED_KEYS if not isinstance(texts.get(key), str) or not texts[key].strip()]
    if missing:
        raise TextsError(f"{path}: missing or empty text(s): {', '.join(missing)}")
    return Texts(**{key: texts[key].strip() for key in REQUIRED_KEYS})
