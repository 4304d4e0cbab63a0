"""Wording of help-center replies, read from the ``help:`` mapping of ``data/texts.yml``."""

from __future__ import annotations

import string
from dataclasses import dataclass, fields
from pathlib import Path

from bot.texts import TextsError, read_section

PLACEHOLDERS: dict[str, frozenset[str]] = {
    "answer": frozenset({"passage", "title", "url"}),
    "article": frozenset({"intro", "title", "url"}),
    "suggest": frozenset(),
    "nothing_found": frozenset(),
    "helped": frozenset(),
    "did_not_help": frozenset(),
    "button_yes": frozenset(),
    "button_no": frozenset(),
    "button_person": frozenset(),
}
"""Every key of the ``help:`` mapping and the placeholders it may use."""


@dataclass(frozen=True)
class HelpTexts:
    """Templates of help-center replies (``str.format`` with named placeholders)."""

    answer: str
    article: str
    suggest: str
    nothing_found: str
    helped: str
    did_not_help: str
    button_yes: str
    button_no: str
    button_person: str


def load_help_texts(path: Path) -> HelpTexts:
    """Read and check the ``help:`` mapping of ``texts.yml``.

    Raises:
        TextsError: with the file name, when a key is missing or empty or a template uses a
            placeholder the bot does not fill.
    """
    section = read_section(path, "help")
    keys = [f.name for f in fields(HelpTexts)]
    missing = [key for key in keys if not isinstance(section.get(key), str) or not section[key].strip()]
    if missing:
        raise TextsError(f"{path}: missing or empty help text(s): {', '.join(missing)}")
    for key in keys:
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(section[key]) if name is not None}
        except ValueError as exc:
            raise TextsError(f"{path}: help.{key}: malformed template: {exc}") from exc
        unknown = sorted(used - PLACEHOLDERS[key])
        if unknown:
            allowed = ", ".join(sorted(PLACEHOLDERS[key])) or "none"
            raise TextsError(f"{path}: help.{key}: unknown placeholder(s) {', '.join(unknown)} (allowed: {allowed})")
    return HelpTexts(**{key: section[key].strip() for key in keys})
