"""Wording of help-center replies, read from the ``help:`` mapping of ``data/texts.yml``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.texts import read_templates

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
    return HelpTexts(**read_templates(path, "help", PLACEHOLDERS))
