"""What happens to handoffs, told to the agent front ends (Slack desk, web console) in-process.

The gateway sees every handoff event: a handoff opens during a customer turn (the action
server records it while the gateway waits for the bot's reply), customer messages arrive
through the gateway while it is open, and agents act through the gateway's desk.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.conversations.store import StoredMessage

_LOGGER = logging.getLogger(__name__)


class HandoffListener(Protocol):
    """An agent front end that wants to hear about handoffs. Every method must not raise."""

    async def handoff_opened(self, handoff_id: int, conversation_id: str) -> None:
        """A handoff was just requested.

        A listener may also define ``async handoff_escalated(handoff_id, conversation_id)``:
        the handoff waited too long unclaimed (re-notify with priority), and
        ``async handoff_claimed(handoff_id, agent_id)``: an agent claimed it through the agent
        API or the console.
        """

    async def customer_message(self, handoff_id: int, message: StoredMessage) -> None:
        """The customer wrote while the handoff is open."""

    async def agent_message(self, handoff_id: int, agent_id: str, message: StoredMessage) -> None:
        """An agent replied (through any front end)."""

    async def handoff_closed(self, handoff_id: int, agent_id: str, how: str) -> None:
        """The handoff was resolved or handed back (``how``: ``resolved`` / ``handed_back`` / ``expired``)."""


class HandoffEvents:
    """Fans handoff events out to the registered listeners; one failing listener harms no other."""

    def __init__(self) -> None:
        """Start with no listeners."""
        self._listeners: list[HandoffListener] = []

    def subscribe(self, listener: HandoffListener) -> None:
        """Register a front end."""
        self._listeners.append(listener)

    async def opened(self, handoff_id: int, conversation_id: str) -> None:
        """Tell every listener a handoff opened."""
        for listener in self._listeners:
            try:
                await listener.handoff_opened(handoff_id, conversation_id)
            except Exception:
                _LOGGER.exception("handoff.listener_failed event=opened id=%d", handoff_id)

    async def escalated(self, handoff_id: int, conversation_id: str) -> None:
        """Tell the listeners that have ``handoff_escalated`` that a handoff waits too long."""
        for listener in self._listeners:
            method = getattr(listener, "handoff_escalated", None)
            if method is None:
                continue
            try:
                await method(handoff_id, conversation_id)
            except Exception:
                _LOGGER.exception("handoff.listener_failed event=escalated id=%d", handoff_id)

    async def claimed(self, handoff_id: int, agent_id: str) -> None:
        """Tell the listeners that have ``handoff_claimed`` that an agent took a handoff elsewhere."""
        for listener in self._listeners:
            method = getattr(listener, "handoff_claimed", None)
            if method is None:
                continue
            try:
                await method(handoff_id, agent_id)
            except Exception:
                _LOGGER.exception("handoff.listener_failed event=claimed id=%d", handoff_id)

    async def customer(self, handoff_id: int, message: StoredMessage) -> None:
        """Tell every listener the customer wrote."""
        for listener in self._listeners:
            try:
                await listener.customer_message(handoff_id, message)
            except Exception:
                _LOGGER.exception("handoff.listener_failed event=customer id=%d", handoff_id)

    async def agent(self, handoff_id: int, agent_id: str, message: StoredMessage) -> None:
        """Tell every listener an agent replied."""
        for listener in self._listeners:
            try:
                await listener.agent_message(handoff_id, agent_id, message)
            except Exception:
                _LOGGER.exception("handoff.listener_failed event=agent id=%d", handoff_id)

    async def closed(self, handoff_id: int, agent_id: str, how: str) -> None:
        """Tell every listener the handoff ended."""
        for listener in self._listeners:
            try:
                await listener.handoff_closed(handoff_id, agent_id, how)
            except Exception:
                _LOGGER.exception("handoff.listener_failed event=closed id=%d", handoff_id)
