"""Wording of order updates, ``/notify`` answers and follow-up emails (``notifications:`` of ``data/texts.yml``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.texts import read_templates

PLACEHOLDERS: dict[str, frozenset[str]] = {
    "order_shipped": frozenset({"order", "carrier", "tracking"}),
    "order_shipped_untracked": frozenset({"order"}),
    "order_delivered": frozenset({"order"}),
    "refund_issued": frozenset({"order", "amount"}),
    "notify_on": frozenset(),
    "notify_off": frozenset(),
    "notify_not_linked": frozenset(),
    "notify_usage": frozenset(),
    "follow_up_subject": frozenset(),
    "follow_up_body": frozenset({"answer"}),
}
"""Every template key of the ``notifications:`` mapping and the placeholders it may use."""

REQUIRED_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "order_shipped": frozenset({"order", "tracking"}),
    "order_shipped_untracked": frozenset({"order"}),
    "order_delivered": frozenset({"order"}),
    "refund_issued": frozenset({"order"}),
    "follow_up_body": frozenset({"answer"}),
}
"""Placeholders a template must use (an update that does not say which order is useless)."""


@dataclass(frozen=True)
class NotificationTexts:
    """The templates (``str.format``), stripped."""

    order_shipped: str
    order_shipped_untracked: str
    order_delivered: str
    refund_issued: str
    notify_on: str
    notify_off: str
    notify_not_linked: str
    notify_usage: str
    follow_up_subject: str
    follow_up_body: str


def load_notification_texts(path: Path) -> NotificationTexts:
    """Read and check the ``notifications:`` mapping of ``path`` (``data/texts.yml``).

    Raises:
        TextsError: with the file name, when a key is missing or empty, or a template uses an
            unknown placeholder or lacks a required one.
    """
    return NotificationTexts(**read_templates(path, "notifications", PLACEHOLDERS, REQUIRED_PLACEHOLDERS))
