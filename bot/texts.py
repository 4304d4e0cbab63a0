"""Customer-facing texts of the gateway, read from ``data/texts.yml``."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REQUIRED_KEYS = (
    "dialogue_unavailable",
    "message_too_long",
    "rate_limited",
    "bad_frame",
    "handoff_closed_silent",
    "second_request",
)


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
    second_request: str = "You also asked: “{request}”. Tap it when you're ready, or now to do that first."


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


def read_templates(
    path: Path,
    section: str,
    placeholders: Mapping[str, frozenset[str]],
    required: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, str]:
    """Read the ``str.format`` templates of one section and check them (each component's texts).

    Args:
        path: The texts file.
        section: Its top-level key (``catalog``, ``identity``, ``help``...).
        placeholders: Every template key and the placeholders it may use.
        required: Placeholders a template must use (``{code}`` in a verification mail).

    Returns:
        Each key's template, stripped.

    Raises:
        TextsError: with the file name, when a key is missing or empty, or a template is
            malformed, uses a placeholder the bot does not fill, or lacks a required one.
    """
    mapping = read_section(path, section)
    missing = [key for key in placeholders if not isinstance(mapping.get(key), str) or not mapping[key].strip()]
    if missing:
        raise TextsError(f"{path}: missing or empty {section} text(s): {', '.join(missing)}")
    for key, allowed in placeholders.items():
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(mapping[key]) if name is not None}
        except ValueError as exc:
            raise TextsError(f"{path}: {section}.{key}: malformed template: {exc}") from exc
        unknown = sorted(used - allowed)
        if unknown:
            names = ", ".join(sorted(allowed)) or "none"
            raise TextsError(f"{path}: {section}.{key}: unknown placeholder(s) {', '.join(unknown)} (allowed: {names})")
        absent = sorted((required or {}).get(key, frozenset()) - used)
        if absent:
            raise TextsError(f"{path}: {section}.{key}: must contain {', '.join('{' + n + '}' for n in absent)}")
    return {key: mapping[key].strip() for key in placeholders}


def load_texts(path: Path) -> Texts:
    """Read and check ``texts.yml``.

    Raises:
        TextsError: with the file name (and line, for YAML syntax errors).
    """
    texts = read_section(path, "texts")
    missing = [key for key in REQUIRED_KEYS if not isinstance(texts.get(key), str) or not texts[key].strip()]
    if missing:
        raise TextsError(f"{path}: missing or empty text(s): {', '.join(missing)}")
    if "{request}" not in texts["second_request"]:
        raise TextsError(f"{path}: texts.second_request must contain {{request}}")
    return Texts(**{key: texts[key].strip() for key in REQUIRED_KEYS})
