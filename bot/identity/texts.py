"""Wording of the account-linking email, read from the ``identity:`` mapping of ``data/texts.yml``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.texts import read_templates

PLACEHOLDERS: dict[str, frozenset[str]] = {
    "code_email_subject": frozenset({"code", "minutes"}),
    "code_email_body": frozenset({"code", "minutes"}),
}
"""Every template key of the ``identity:`` mapping and the placeholders it may use."""

REQUIRED_PLACEHOLDERS: dict[str, frozenset[str]] = {"code_email_body": frozenset({"code"})}
"""Placeholders a template must use (an email without its code is useless)."""


@dataclass(frozen=True)
class LinkTexts:
    """Templates of the one-time-code email (``str.format`` with ``{code}`` and ``{minutes}``)."""

    code_email_subject: str
    code_email_body: str

    def code_email(self, code: str, minutes: int) -> tuple[str, str]:
        """Return the ``(subject, body)`` of the email that carries ``code``."""
        return (
            self.code_email_subject.format(code=code, minutes=minutes),
            self.code_email_body.format(code=code, minutes=minutes),
        )


def load_link_texts(path: Path) -> LinkTexts:
    """Read and check the ``identity:`` mapping of ``texts.yml``.

    Args:
        path: The texts file, e.g. ``data/texts.yml``.

    Returns:
        The templates, stripped.

    Raises:
        TextsError: with the file name, when the file is unreadable, a key is missing or empty,
            or a template uses an unknown placeholder or lacks a required one.
    """
    return LinkTexts(**read_templates(path, "identity", PLACEHOLDERS, REQUIRED_PLACEHOLDERS))
