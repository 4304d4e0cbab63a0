"""A handoff's root message in the agents' channel, and the posts in its thread.

The root shows the handoff as it stands (summary, queue, language, tags, state) with "Claim"
and/or "Resolve"; it is posted once, when the handoff goes to its queue's team or is claimed,
never while it is only offered to one agent.
"""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine

from bot.agentdesk.blocks import HandoffCard, root_message
from bot.agentdesk.roster import SlackRoster
from bot.agentdesk.texts import SlackDeskTexts
from bot.agentdesk.threads import SlackThread, SlackThreads
from bot.db.engine import session_factory
from bot.db.models import Conversation
from bot.handoff.desk import HandoffView
from bot.handoff.service import HandoffService

_LOGGER = logging.getLogger(__name__)

#: How long a post waits for its handoff's root message (posted by another replica, maybe).
_ROOT_WAIT_STEPS, _ROOT_WAIT_STEP_S = 10, 0.5
#: Routing stages of an open handoff that is not in the agents' channel (not routed yet, or offered to one agent).
_NOT_IN_CHANNEL = {"new", "agent"}


class HandoffRoots:
    """Posts and updates the root messages of handoffs and posts in their threads."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        agents_channel: str,
        handoffs: HandoffService,
        threads: SlackThreads,
        roster: SlackRoster,
        texts: SlackDeskTexts,
        engine: Engine,
    ) -> None:
        """Post to ``agents_channel``; record in ``threads``."""
        self._client = client
        self._agents_channel = agents_channel
        self._handoffs = handoffs
        self._threads = threads
        self._roster = roster
        self._texts = texts
        self._sessions = session_factory(engine)

    async def post(self, handoff_id: int) -> None:
        """Post the handoff's root message as it stands now; posted once (a second one is deleted)."""
        if await self._threads.get(handoff_id) is not None:
            return
        view = await self._handoffs.get(handoff_id)
        card = await self.card(handoff_id, view)
        if view is None or card is None:
            return
        state, claimable, resolvable = await self._state(view)
        text, blocks = root_message(card, self._texts, state=state, claimable=claimable, resolvable=resolvable)
        response = await self._client.chat_postMessage(
            channel=self._agents_channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
        )
        thread = SlackThread(str(response["channel"]), str(response["ts"]))
        if not await self._threads.add(handoff_id, thread):
            await self._client.chat_delete(channel=thread.channel, ts=thread.ts)
            return
        _LOGGER.info("slack_desk.posted handoff=%d", handoff_id)

    async def refresh(self, handoff_id: int, *, post: bool = True) -> None:
        """The root message shows the handoff as it stands now (posted now when missing and ``post``)."""
        thread = await self._threads.get(handoff_id)
        if thread is None:
            if post:
                await self.post(handoff_id)
            return
        view = await self._handoffs.get(handoff_id)
        card = await self.card(handoff_id, view)
        if view is None or card is None:
            return
        state, claimable, resolvable = await self._state(view)
        text, blocks = root_message(card, self._texts, state=state, claimable=claimable, resolvable=resolvable)
        await self._client.chat_update(channel=thread.channel, ts=thread.ts, text=text, blocks=blocks)

    async def update(self, handoff_id: int, state: str, *, claimable: bool, resolvable: bool) -> None:
        """Show ``state`` (and these buttons) on the root message."""
        thread = await self.thread(handoff_id)
        card = await self.card(handoff_id)
        if thread is None or card is None:
            _LOGGER.warning("slack_desk.no_thread handoff=%d", handoff_id)
            return
        text, blocks = root_message(card, self._texts, state=state, claimable=claimable, resolvable=resolvable)
        await self._client.chat_update(channel=thread.channel, ts=thread.ts, text=text, blocks=blocks)

    async def _state(self, view: HandoffView) -> tuple[str, bool, bool]:
        """(state line, claimable, resolvable) of a handoff as it stands."""
        if view.status == "open" and view.stage == "agent" and view.offered_to:
            # Offered to one agent (again, after a transfer to a queue): only they may take it now.
            return self._texts.state_offered.format(name=await self._roster.name(view.offered_to)), False, False
        if view.status == "open":
            return self._texts.state_open, True, True
        name = await self._roster.name(view.agent_id) if view.agent_id else ""
        if view.status == "claimed":
            return self._texts.state_claimed.format(name=name), False, True
        return (self._texts.state_resolved.format(name=name) if name else self._texts.state_expired), False, False

    async def not_in_channel(self, handoff_id: int) -> bool:
        """Whether the handoff has no root for a reason: gone, or never went further than an offer.

        Such a handoff is still (or was, until it closed) only offered to one agent, or not routed
        yet; claiming it moves it on (stage ``claimed``), and so does its queue's team getting it.
        """
        if await self._threads.get(handoff_id) is not None:
            return False
        view = await self._handoffs.get(handoff_id)
        return view is None or view.stage in _NOT_IN_CHANNEL

    async def thread(self, handoff_id: int) -> SlackThread | None:
        """The handoff's thread; posted now when it is still missing after a short wait.

        In a cluster the replica that queued the handoff posts its root message while another
        may already hear the customer's next message: that one waits for the root, and posts it
        itself when it never comes (its replica died); a second root is deleted, never kept.
        A handoff only offered to one agent has no root yet (``None`` at once).
        """
        for step in range(_ROOT_WAIT_STEPS):
            thread = await self._threads.get(handoff_id)
            if thread is not None:
                return thread
            if step == 0 and await self.not_in_channel(handoff_id):
                return None
            await asyncio.sleep(_ROOT_WAIT_STEP_S)
        await self.post(handoff_id)
        return await self._threads.get(handoff_id)

    async def post_in_thread(self, handoff_id: int, text: str, *, broadcast: bool = False) -> None:
        """Post ``text`` in the handoff's thread (``broadcast``: also shown in the channel)."""
        thread = await self.thread(handoff_id)
        if thread is None:
            _LOGGER.warning("slack_desk.no_thread handoff=%d", handoff_id)
            return
        response = await self._client.chat_postMessage(
            channel=thread.channel,
            thread_ts=thread.ts,
            text=text,
            reply_broadcast=broadcast,
            unfurl_links=False,
            unfurl_media=False,
        )
        # Every post is recorded: erasing the customer deletes it from Slack (bot/agentdesk/erasure.py).
        channel, ts = str(response["channel"]), str(response["ts"])
        if not await self._threads.record(handoff_id, channel, ts):
            await self._client.chat_delete(channel=channel, ts=ts)

    async def card(self, handoff_id: int, view: HandoffView | None = None) -> HandoffCard | None:
        """What the handoff's messages show (``view``: the handoff, when already read)."""
        view = view or await self._handoffs.get(handoff_id)
        if view is None:
            return None
        channel, customer = await asyncio.to_thread(self._conversation_facts, view.conversation_id)
        summary = view.packet.get("summary")
        return HandoffCard(
            handoff_id=view.id,
            reason=view.reason,
            customer_id=customer,
            channel=channel,
            summary=summary if isinstance(summary, str) else None,
            queue=view.queue,
            language=view.language,
            tags=tuple(view.tags),
        )

    def _conversation_facts(self, conversation_id: str) -> tuple[str, str | None]:
        with self._sessions() as session:
            row = session.get(Conversation, conversation_id)
            return (row.channel, row.customer_id) if row is not None else ("unknown", None)
