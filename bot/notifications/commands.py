"""``/notify on|off`` from a linked chat: the customer turns order updates on or off themselves.

The chat must be linked to the customer's account (a deep link or an emailed code, see
docs/identity.md); in a chat linked to no one the command explains how to link it. The channel
only recognises the command and sends the answer back; the decision is made here.
"""

from __future__ import annotations

import logging

from bot.notifications.preferences import PreferenceStore
from bot.notifications.texts import NotificationTexts

_LOGGER = logging.getLogger(__name__)

COMMAND = "/notify"


def is_notify_command(text: str) -> bool:
    """Whether a chat message is the ``/notify`` command (with or without an argument)."""
    head = text.split(maxsplit=1)[0] if text.strip() else ""
    return head == COMMAND or head.startswith(COMMAND + "@")  # Telegram adds @botname in groups


class ChatOptIn:
    """Answers ``/notify``: switches the linked customer's order updates and says what it did."""

    def __init__(self, preferences: PreferenceStore, texts: NotificationTexts) -> None:
        """Change settings in ``preferences``; answer with ``texts``."""
        self._preferences = preferences
        self._texts = texts

    async def command(self, channel: str, external_id: str, text: str) -> str:
        """Run ``/notify on``, ``/notify off`` (anything else: how to use it) for ``channel``'s user; the answer."""
        parts = text.split()
        argument = parts[1].lower() if len(parts) == 2 else ""
        if argument not in ("on", "off"):
            return self._texts.notify_usage
        wanted = argument == "on"
        changed = await self._preferences.set_from_chat(channel, external_id, wanted)
        if changed is None:
            _LOGGER.info("notifications.command_unlinked channel=%s", channel)
            return self._texts.notify_not_linked
        _LOGGER.info("notifications.command channel=%s order_updates=%s", channel, wanted)
        return self._texts.notify_on if wanted else self._texts.notify_off
