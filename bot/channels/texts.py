"""Customer-facing texts of the push channels, read from ``data/texts.yml`` (``channels:``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from bot.texts import TextsError, read_section


@dataclass(frozen=True)
class ChannelTexts:
    """What Telegram and Slack customers are told outside the dialogue."""

    unsupported_content: str
    button_expired: str
    linked: str
    link_invalid: str
    message_too_long: str


def load_channel_texts(path: Path) -> ChannelTexts:
    """Read the ``channels:`` section of ``path``.

    Raises:
        TextsError: the file or the section is missing or malformed, or a key is missing.
    """
    section = read_section(path, "channels")
    values: dict[str, str] = {}
    for item in fields(ChannelTexts):
        value = section.get(item.name)
        if not isinstance(value, str) or not value.strip():
            raise TextsError(f"{path}: channels.{item.name} must be a non-empty text")
        values[item.name] = value.strip()
    return ChannelTexts(**values)
