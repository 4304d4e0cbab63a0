"""The handoff workflow in one place: claim, an agent's reply, resolve and hand back.

Every agent front end (the agent API with the web console on it, the Slack desk) calls this
service and only translates its outcomes into its own answers; the service changes the
handoff, writes into the conversation and tells every front end on the :class:`HandoffEvents`
bus. The rest of the workflow lives beside it: the action server opens handoffs and stores
CSAT scores (:class:`~bot.handoff.requests.HandoffRequests`), the customer turn relays the
customer's messages to the bus, and :class:`~bot.handoff.timers.HandoffTimers` escalate and
expire.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.core.messages import StoredMessage
from bot.core.text import clean_text
from bot.handoff.desk import ClaimOutcome, CloseOutcome, HandoffDesk, HandoffView
from bot.handoff.events import AgentWrote, HandoffClaimed, HandoffClosed, HandoffEvents, Via
from bot.settings import Limits

_LOGGER = logging.getLogger(__name__)

#: How an agent ends a handoff, and the intent the dialogue model is then told (domain.yml).
CLOSE_INTENTS = {"resolved": "handoff_resolved", "handed_back": "handoff_handed_back"}
AgentClose = Literal["resolved", "handed_back"]
ReplyOutcome = Literal["sent", "not_found", "resolved", "not_yours", "empty", "too_long"]


class ConversationOutlet(Protocol):
    """What the workflow needs of a conversation (:class:`bot.conversations.service.ConversationService`)."""

    async def agent_message(self, conversation_id: str, text: str) -> StoredMessage:
        """Store an agent's message and deliver it on the customer's channel."""

    async def system_message(self, conversation_id: str, text: str) -> StoredMessage:
        """Store and deliver a notice from the support system."""

    async def bot_turn(self, conversation_id: str, intent: str) -> list[StoredMessage]:
        """Let the bot speak as if the customer had expressed ``intent``; its stored replies."""


@dataclass(frozen=True)
class AgentReply:
    """What became of an agent's reply (``message``: the stored reply when ``sent``)."""

    outcome: ReplyOutcome
    message: StoredMessage | None = None


@dataclass(frozen=True)
class Closing:
    """What became of resolving or handing back (``bot_replies``: what the bot then said)."""

    outcome: CloseOutcome
    bot_replies: tuple[StoredMessage, ...] = ()


class HandoffService:
    """Agents' actions on handoffs; each one decided here, once, for every front end."""

    def __init__(
        self, *, desk: HandoffDesk, events: HandoffEvents, conversations: ConversationOutlet, limits: Limits
    ) -> None:
        """Act on ``desk``'s records, write through ``conversations``, announce on ``events``."""
        self._desk = desk
        self._conversations = conversations
        self._limits = limits
        self.events = events

    async def handoffs(self, status: str | None = None) -> list[HandoffView]:
        """Handoffs, oldest first; only those with ``status`` when given (open, claimed, resolved)."""
        return await self._desk.handoffs(status)

    async def get(self, handoff_id: int) -> HandoffView | None:
        """One handoff with its packet."""
        return await self._desk.get(handoff_id)

    async def claim(self, handoff_id: int, agent_id: str, *, via: Via) -> ClaimOutcome:
        """Take an open handoff; of several agents claiming at once exactly one wins."""
        outcome = await self._desk.claim(handoff_id, agent_id)
        if outcome == "claimed":
            await self.events.publish(HandoffClaimed(handoff_id, agent_id, via))
        return outcome

    async def reply(self, handoff_id: int, agent_id: str, text: str, *, via: Via) -> AgentReply:
        """Send the claiming agent's text to the customer, on their own channel.

        Only the agent holding the handoff may reply; the text is cleaned of control
        characters, and an empty or too long one is not sent.
        """
        view = await self._desk.get(handoff_id)
        if view is None:
            return AgentReply("not_found")
        if view.status != "claimed" or view.agent_id != agent_id:
            return AgentReply("resolved" if view.status == "resolved" else "not_yours")
        text = clean_text(text)
        if not text:
            return AgentReply("empty")
        if len(text) > self._limits.max_message_chars:
            return AgentReply("too_long")
        stored = await self._conversations.agent_message(view.conversation_id, text)
        await self.events.publish(AgentWrote(handoff_id, agent_id, stored, via))
        _LOGGER.info("handoff.agent_replied id=%d agent=%s via=%s", handoff_id, agent_id, via)
        return AgentReply("sent", stored)

    async def close(self, handoff_id: int, agent_id: str, how: AgentClose, *, via: Via) -> Closing:
        """Resolve (CSAT is asked) or hand back (a paused guide resumes); the bot speaks next."""
        outcome = await self._desk.resolve(handoff_id, agent_id, how)
        view = await self._desk.get(handoff_id) if outcome == "resolved" else None
        if view is None:
            return Closing("not_found" if outcome == "resolved" else outcome)
        await self.events.publish(HandoffClosed(handoff_id, agent_id, how))
        replies = await self._conversations.bot_turn(view.conversation_id, CLOSE_INTENTS[how])
        _LOGGER.info("handoff.closed id=%d agent=%s how=%s via=%s", handoff_id, agent_id, how, via)
        return Closing("resolved", tuple(replies))
