"""What happens to handoffs: typed events on one in-process bus that agent front ends listen to.

The gateway sees every handoff event: a handoff opens during a customer turn (the action
server records it while the gateway waits for the bot's reply), customer messages arrive
through the gateway while it is open, agents act through :class:`~bot.handoff.service.HandoffService`,
and the timers escalate or close handoffs. Publishers: the customer turn (``HandoffOpened``,
``CustomerWrote``), the handoff service (``HandoffClaimed``, ``AgentWrote``, ``HandoffClosed``)
and the timers (``HandoffEscalated``, ``HandoffClosed``). Listeners: the agent desks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.core.messages import StoredMessage

_LOGGER = logging.getLogger(__name__)

#: How a handoff ended: an agent resolved it, handed the customer back mid-way, or it expired.
ClosedHow = Literal["resolved", "handed_back", "expired"]
#: Which front end an agent acted through (a desk does not echo what came from itself).
Via = Literal["slack", "api", "timers", "router"]
#: An agent's presence: online (offered handoffs), away (keeps what they hold, offered none), offline.
Presence = Literal["online", "away", "offline"]


@dataclass(frozen=True)
class HandoffOpened:
    """A handoff was just requested (during the customer turn that asked for it)."""

    handoff_id: int
    conversation_id: str


@dataclass(frozen=True)
class HandoffEscalated:
    """A handoff waited too long unclaimed: re-notify with priority."""

    handoff_id: int
    conversation_id: str


@dataclass(frozen=True)
class HandoffClaimed:
    """An agent took the handoff."""

    handoff_id: int
    agent_id: str
    via: Via


@dataclass(frozen=True)
class CustomerWrote:
    """The customer wrote while the handoff is open (the message is stored; the bot stays silent)."""

    handoff_id: int
    message: StoredMessage


@dataclass(frozen=True)
class AgentWrote:
    """The claiming agent replied; the reply is stored and on its way to the customer."""

    handoff_id: int
    agent_id: str
    message: StoredMessage
    via: Via


@dataclass(frozen=True)
class HandoffClosed:
    """The handoff ended; the bot has the conversation again."""

    handoff_id: int
    agent_id: str
    how: ClosedHow


@dataclass(frozen=True)
class HandoffOffered:
    """The router offers an open handoff to one agent first (a Slack DM, a console notification)."""

    handoff_id: int
    conversation_id: str
    agent_id: str


@dataclass(frozen=True)
class HandoffQueued:
    """The handoff is offered to its queue's team (no agent took the first offer, or none was available)."""

    handoff_id: int
    conversation_id: str
    queue: str


@dataclass(frozen=True)
class HandoffTransferred:
    """An agent passed the handoff on: to another agent (``to_agent``, who now holds it) or back to a queue."""

    handoff_id: int
    conversation_id: str
    from_agent: str
    to_agent: str | None
    queue: str
    via: Via


@dataclass(frozen=True)
class NoteAdded:
    """An agent wrote an internal note (agents see it; the customer never does)."""

    handoff_id: int
    agent_id: str
    text: str
    via: Via


@dataclass(frozen=True)
class PresenceChanged:
    """An agent went online, away or offline (``handoff_id`` is 0: it concerns no one handoff)."""

    agent_id: str
    status: Presence
    via: Via
    handoff_id: int = 0


HandoffEvent = (
    HandoffOpened
    | HandoffEscalated
    | HandoffClaimed
    | CustomerWrote
    | AgentWrote
    | HandoffClosed
    | HandoffOffered
    | HandoffQueued
    | HandoffTransferred
    | NoteAdded
    | PresenceChanged
)


class HandoffListener(Protocol):
    """An agent front end that wants to hear about handoffs."""

    async def on_handoff_event(self, event: HandoffEvent) -> None:
        """Hear one event (quickly: queue slow work); an exception is logged and harms no other listener."""


class HandoffEvents:
    """The bus: delivers each event to every listener in subscription order."""

    def __init__(self) -> None:
        """Start with no listeners."""
        self._listeners: list[HandoffListener] = []

    def subscribe(self, listener: HandoffListener) -> None:
        """Register a front end."""
        self._listeners.append(listener)

    async def publish(self, event: HandoffEvent) -> None:
        """Tell every listener; one failing listener harms no other."""
        for listener in self._listeners:
            try:
                await listener.on_handoff_event(event)
            except Exception:
                _LOGGER.exception("handoff.listener_failed event=%s id=%d", type(event).__name__, event.handoff_id)
