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

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot.core.messages import StoredMessage
from bot.core.text import clean_text
from bot.handoff.canned import CannedReply, CannedText, fill, first_name, packet_device, packet_order
from bot.handoff.desk import ClaimOutcome, CloseOutcome, HandoffDesk, HandoffView
from bot.handoff.events import (
    AgentWrote,
    HandoffClaimed,
    HandoffClosed,
    HandoffEvents,
    HandoffTransferred,
    NoteAdded,
    Presence,
    Via,
)
from bot.handoff.lookup import ConversationQuery, HandoffLookup
from bot.handoff.router import AgentStatus, DeclineOutcome, HandoffRouter
from bot.handoff.tools import HandoffTools, NoteResult, NoteView, TagsResult, TransferResult
from bot.settings import Limits

_LOGGER = logging.getLogger(__name__)

#: How an agent ends a handoff, and the intent the dialogue model is then told (domain.yml).
CLOSE_INTENTS = {"resolved": "handoff_resolved", "handed_back": "handoff_handed_back"}
AgentClose = Literal["resolved", "handed_back"]
ReplyOutcome = Literal["sent", "not_found", "resolved", "not_yours", "empty", "too_long", "unknown_reply", "unfilled"]


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
        self,
        *,
        desk: HandoffDesk,
        events: HandoffEvents,
        conversations: ConversationOutlet,
        limits: Limits,
        router: HandoffRouter,
        tools: HandoffTools,
        lookup: HandoffLookup,
        canned: Sequence[CannedReply] = (),
    ) -> None:
        """Act on ``desk``'s records, write through ``conversations``, announce on ``events``.

        ``router`` offers handoffs and keeps agents' presence; ``tools`` keeps notes, tags and
        transfers; ``lookup`` answers the desks' questions; ``canned``: the canned replies.
        """
        self._desk = desk
        self._conversations = conversations
        self._limits = limits
        self._tools = tools
        self._canned = {reply.id: reply for reply in canned}
        self.router = router
        self.lookup = lookup
        self.events = events

    async def handoffs(
        self, status: str | None = None, *, queue: str | None = None, escalated: bool = False
    ) -> list[HandoffView]:
        """Handoffs, oldest first (by ``status``, ``queue``, escalated only); open ones with place and wait."""
        views = await self._desk.handoffs(status, queue=queue, escalated=escalated)
        if not any(view.status == "open" for view in views):
            return views
        agents = await self.router.agents()
        online: dict[str, int] = {}
        for queue_id in {view.queue for view in views}:
            skill = self.router.rules.skill_of(queue_id)
            online[queue_id] = sum(1 for a in agents if a.presence == "online" and (skill is None or skill in a.skills))
        figures = await asyncio.to_thread(self.lookup.queue_figures, online)
        return [
            dataclasses.replace(view, position=figures[view.id][0], wait_estimate_s=figures[view.id][1])
            if view.id in figures
            else view
            for view in views
        ]

    async def get(self, handoff_id: int) -> HandoffView | None:
        """One handoff with its packet."""
        return await self._desk.get(handoff_id)

    async def claim(self, handoff_id: int, agent_id: str, *, via: Via) -> ClaimOutcome:
        """Take an open handoff; of several agents claiming at once exactly one wins.

        While the handoff is offered to one agent, only that agent may take it.
        """
        outcome = await self._desk.claim(handoff_id, agent_id)
        if outcome == "claimed":
            await self.events.publish(HandoffClaimed(handoff_id, agent_id, via))
        return outcome

    # -- presence and offers ---------------------------------------------------------------

    async def agents(self) -> list[AgentStatus]:
        """Every active agent with presence and load."""
        return await self.router.agents()

    async def agent_status(self, agent_id: str) -> AgentStatus | None:
        """One active agent with presence and load."""
        return await self.router.agent(agent_id)

    async def set_presence(self, agent_id: str, status: Presence, *, via: Via) -> AgentStatus | None:
        """Go online, away or offline (``None``: no such active agent); what was offered moves on."""
        return await self.router.set_presence(agent_id, status, via=via)

    async def heartbeat(self, agent_id: str) -> AgentStatus | None:
        """The agent's console is still open."""
        return await self.router.heartbeat(agent_id)

    async def offers(self, agent_id: str) -> list[HandoffView]:
        """Handoffs offered to the agent now, waiting for their answer."""
        return await self._desk.handoffs("open", offered_to=agent_id)

    async def decline(self, handoff_id: int, agent_id: str, *, via: Via) -> DeclineOutcome:
        """Let an offer pass: the next agent who fits gets it, or the queue's team."""
        outcome = await self.router.decline(handoff_id, agent_id)
        _LOGGER.info("handoff.declined id=%d agent=%s via=%s outcome=%s", handoff_id, agent_id, via, outcome)
        return outcome

    # -- notes, tags, transfer -------------------------------------------------------------

    async def notes(self, handoff_id: int) -> list[NoteView]:
        """The handoff's internal notes and history (offers, transfers), oldest first."""
        return await self._tools.notes(handoff_id)

    async def add_note(self, handoff_id: int, agent_id: str, text: str, *, via: Via) -> NoteResult:
        """An internal note: shown to agents on every desk, never to the customer."""
        text = clean_text(text)
        result = await self._tools.add_note(handoff_id, agent_id, text)
        if result.note is not None:
            await self.events.publish(NoteAdded(handoff_id, agent_id, result.note.text, via))
        return result

    async def set_tags(self, handoff_id: int, agent_id: str, tags: Sequence[Any]) -> TagsResult:
        """Replace the handoff's tags (lower-case words; at most 10)."""
        result = await self._tools.set_tags(handoff_id, tags)
        _LOGGER.info("handoff.tagged id=%d agent=%s outcome=%s", handoff_id, agent_id, result.outcome)
        return result

    async def transfer(
        self,
        handoff_id: int,
        agent_id: str,
        *,
        to_agent: str | None = None,
        to_queue: str | None = None,
        note: str | None = None,
        via: Via,
    ) -> TransferResult:
        """Pass a claimed handoff to another agent (online or away, under capacity) or to a queue.

        To an agent: they hold it at once. To a queue: it is routed anew (offered to the best
        agent of that queue, then its team), and the one passing it is not offered it again.
        """
        if (to_agent is None) == (to_queue is None):
            raise ValueError("transfer to exactly one of an agent or a queue")
        note = clean_text(note or "") or None
        result = await self._tools.transfer(handoff_id, agent_id, to_agent=to_agent, to_queue=to_queue, note=note)
        if result.outcome != "transferred":
            return result
        if note is not None:
            await self.events.publish(NoteAdded(handoff_id, agent_id, note, via))
        await self.events.publish(
            HandoffTransferred(handoff_id, result.conversation_id, agent_id, result.to_agent, result.queue, via)
        )
        if result.to_agent is not None:
            await self.events.publish(HandoffClaimed(handoff_id, result.to_agent, via))
        else:
            await self.router.route(handoff_id)
        return result

    # -- canned replies ------------------------------------------------------------------

    async def canned_replies(self, handoff_id: int | None = None, agent_id: str | None = None) -> list[CannedText]:
        """The canned replies, filled for the handoff when given (unfillable placeholders listed)."""
        values: dict[str, str | None] = {}
        if handoff_id is not None:
            view = await self._desk.get(handoff_id)
            if view is not None:
                found = await self.lookup.placeholder_values(view.conversation_id, view.packet)
                values = {
                    "customer_name": first_name(found.get("customer_name")),
                    "order": packet_order(view.packet),
                    "device": found.get("product_name") or packet_device(view.packet),
                }
        if agent_id is not None:
            agent = await self.router.agent(agent_id)
            values["agent_name"] = first_name(agent.name) if agent is not None else None
        return [fill(reply, values) for reply in self._canned.values()]

    async def reply_canned(self, handoff_id: int, agent_id: str, reply_id: str, *, via: Via) -> AgentReply:
        """Send a canned reply filled from the handoff's packet; not when a placeholder stays empty."""
        if reply_id not in self._canned:
            return AgentReply("unknown_reply")
        filled = {c.id: c for c in await self.canned_replies(handoff_id, agent_id)}[reply_id]
        if filled.missing:
            return AgentReply("unfilled")
        return await self.reply(handoff_id, agent_id, filled.text, via=via)

    # -- lookups -------------------------------------------------------------------------

    async def search(self, query: ConversationQuery) -> list[dict[str, Any]]:
        """Conversations by customer, order number, channel, dates and text."""
        return await self.lookup.search(query)

    async def customer_view(self, customer_id: str) -> dict[str, Any] | None:
        """A verified customer across channels (30 days), open requests, orders and devices."""
        return await self.lookup.customer_view(customer_id)

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
