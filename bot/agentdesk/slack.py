"""The Slack agent desk: handoffs posted to an agents' channel, claimed, answered and resolved there.

Every handoff gets a root message (summary + "Claim" / "Resolve" buttons) in the agents'
channel; the customer's messages go into its thread, and the claiming agent's thread replies
go to the customer on their own channel. Slack reaches the desk through the gateway's
``POST /slack/events`` (signed; slack-bolt verifies it) or through Socket Mode.

Work is acknowledged to Slack at once and done in background jobs, one chain per handoff, so a
handoff's messages keep their order and a slow Slack or Rasa never delays an acknowledgement.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.agentdesk.blocks import CLAIM_ACTION, RESOLVE_ACTION, HandoffCard, root_message
from bot.agentdesk.jobs import HandoffJobs
from bot.agentdesk.texts import SlackDeskTexts
from bot.agentdesk.threads import SlackThread, SlackThreads
from bot.db.engine import session_factory
from bot.db.leases import SeenEvents
from bot.db.models import Agent, Conversation
from bot.handoff.events import (
    AgentWrote,
    CustomerWrote,
    HandoffClaimed,
    HandoffClosed,
    HandoffEscalated,
    HandoffEvent,
    HandoffOpened,
)
from bot.handoff.service import HandoffService
from bot.slack.app import SlackApp
from bot.slack.mrkdwn import escape_mrkdwn, plain_from_slack

_LOGGER = logging.getLogger(__name__)

#: How long a post waits for its handoff's root message (posted by another replica, maybe).
_ROOT_WAIT_STEPS, _ROOT_WAIT_STEP_S = 10, 0.5
_CLOSED_STATES = {"resolved": "state_resolved", "handed_back": "state_handed_back", "expired": "state_expired"}


@dataclass(frozen=True)
class SlackAgent:
    """An active agent known by their Slack member id."""

    id: str
    name: str


class SlackDesk:
    """A :class:`~bot.handoff.events.HandoffListener` that runs the agent desk in a Slack channel.

    Agents' buttons and thread replies become calls of the :class:`HandoffService`; handoff
    events (from any front end) become posts and updates in the channel.
    """

    def __init__(
        self,
        *,
        slack: SlackApp,
        agents_channel: str,
        handoffs: HandoffService,
        engine: Engine,
        legacy_threads_file: Path | None = None,
        texts: SlackDeskTexts | None = None,
    ) -> None:
        """Compose the desk on the gateway's Slack app (no network until it is started).

        Its posts are recorded in ``engine``'s database; ``legacy_threads_file`` is an older
        version's thread map, moved into the database at start.
        """
        self._agents_channel = agents_channel
        self._handoffs = handoffs
        self._sessions = session_factory(engine)
        self._texts = texts or SlackDeskTexts()
        self._threads = SlackThreads(engine, legacy_threads_file)
        self._jobs = HandoffJobs()
        # Slack retries an event it thinks was lost, maybe to another replica: ids kept in the database.
        self._seen_events = SeenEvents(engine, "slack_desk")
        self.slack = slack
        self.client = slack.client
        slack.bolt.action(CLAIM_ACTION)(self._on_claim)
        slack.bolt.action(RESOLVE_ACTION)(self._on_resolve)
        slack.on_message(self._on_message)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the thread map (the gateway connects the shared Slack app)."""
        await asyncio.to_thread(self._threads.load)
        _LOGGER.info("slack_desk.started channel=%s", self._agents_channel)

    async def close(self) -> None:
        """Cancel pending jobs and wait for them."""
        await self._jobs.close()

    async def drain(self) -> None:
        """Wait until every queued job is done (for tests and orderly shutdowns)."""
        await self._jobs.drain()

    def is_desk_channel(self, channel: str) -> bool:
        """Whether ``channel`` is the agents' channel (by name or by the id Slack answered with)."""
        return channel in (self._agents_channel, *self._threads.channels())

    # -- HandoffListener -------------------------------------------------------------------

    async def on_handoff_event(self, event: HandoffEvent) -> None:
        """Queue the Slack work an event calls for (in the handoff's own order)."""
        match event:
            case HandoffOpened(handoff_id=handoff_id):
                # Posted once: a handoff already posted is left alone.
                self._jobs.submit(handoff_id, lambda: self._post_root(handoff_id), "opened")
            case HandoffEscalated(handoff_id=handoff_id):
                # A note in the thread, also shown in the channel itself.
                note = self._texts.escalated
                self._jobs.submit(
                    handoff_id, lambda: self._post_in_thread(handoff_id, note, broadcast=True), "escalated"
                )
            case HandoffClaimed(handoff_id=handoff_id, agent_id=agent_id):
                self._jobs.submit(handoff_id, lambda: self._show_claimed(handoff_id, agent_id), "claimed")
            case CustomerWrote(handoff_id=handoff_id, message=message):
                text = self._texts.customer_wrote.format(text=escape_mrkdwn(message.text))
                self._jobs.submit(handoff_id, lambda: self._post_in_thread(handoff_id, text), "customer")
            case AgentWrote(via="slack"):
                pass  # a reply made in Slack is in the thread already
            case AgentWrote(handoff_id=handoff_id, agent_id=agent_id, message=message):
                self._jobs.submit(handoff_id, lambda: self._echo_reply(handoff_id, agent_id, message.text), "agent")
            case HandoffClosed(handoff_id=handoff_id, agent_id=agent_id, how=how):
                self._jobs.submit(handoff_id, lambda: self._show_closed(handoff_id, agent_id, how), "closed")

    async def _show_claimed(self, handoff_id: int, agent_id: str) -> None:
        name = await asyncio.to_thread(self._agent_name, agent_id)
        state = self._texts.state_claimed.format(name=name)
        await self._update_root(handoff_id, state, claimable=False, resolvable=True)

    async def _echo_reply(self, handoff_id: int, agent_id: str, text: str) -> None:
        """A reply sent from another front end, copied into the thread."""
        name = await asyncio.to_thread(self._agent_name, agent_id)
        await self._post_in_thread(
            handoff_id, self._texts.agent_wrote.format(name=escape_mrkdwn(name), text=escape_mrkdwn(text))
        )

    async def _show_closed(self, handoff_id: int, agent_id: str, how: str) -> None:
        """The outcome on the root message, its buttons removed."""
        name = await asyncio.to_thread(self._agent_name, agent_id)
        template = getattr(self._texts, _CLOSED_STATES.get(how, "state_resolved"))
        await self._update_root(handoff_id, template.format(name=name), claimable=False, resolvable=False)

    # -- Slack -> desk ---------------------------------------------------------------------

    async def _on_claim(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        action = _block_action(body)
        if action is not None:
            self._jobs.submit(action[0], lambda: self._claim(*action), "claim")

    async def _on_resolve(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        action = _block_action(body)
        if action is not None:
            self._jobs.submit(action[0], lambda: self._resolve(*action), "resolve")

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any]) -> bool:
        """Take the agents' replies in handoff threads (``True``); leave every other message."""
        channel, thread_ts = str(event.get("channel", "")), event.get("thread_ts")
        if event.get("subtype") or event.get("bot_id") or not event.get("user"):
            return self.is_desk_channel(channel)  # edits, joins, files, bots (including this desk's own posts)
        if not isinstance(thread_ts, str) or thread_ts == event.get("ts"):
            return self.is_desk_channel(channel)  # not a thread reply
        handoff_id = await self._threads.handoff_for(channel, thread_ts)
        if handoff_id is None:
            return self.is_desk_channel(channel)
        event_id = str(body.get("event_id") or event.get("client_msg_id") or event.get("ts"))
        if not await asyncio.to_thread(self._seen_events.first_time, event_id):
            _LOGGER.info("slack_desk.duplicate_event event=%s", event_id)
            return True
        user, text = str(event["user"]), str(event.get("text", ""))
        self._jobs.submit(handoff_id, lambda: self._relay(handoff_id, user, channel, thread_ts, text), "reply")
        return True

    async def _claim(self, handoff_id: int, user: str, channel: str) -> None:
        agent = await asyncio.to_thread(self._agent_for, user)
        if agent is None:
            await self._ephemeral(channel, user, self._texts.not_an_agent)
            return
        outcome = await self._handoffs.claim(handoff_id, agent.id, via="slack")
        answers = {
            "already_yours": self._texts.already_yours,
            "taken": self._texts.already_claimed,
            "resolved": self._texts.handoff_closed,
            "not_found": self._texts.handoff_missing,
            "unknown_agent": self._texts.not_an_agent,
        }
        if outcome in answers:  # "claimed" shows on the root message (the HandoffClaimed event)
            await self._ephemeral(channel, user, answers[outcome])

    async def _resolve(self, handoff_id: int, user: str, channel: str) -> None:
        agent = await asyncio.to_thread(self._agent_for, user)
        if agent is None:
            await self._ephemeral(channel, user, self._texts.not_an_agent)
            return
        closing = await self._handoffs.close(handoff_id, agent.id, "resolved", via="slack")
        answers = {
            "not_yours": self._texts.not_yours,
            "not_claimed": self._texts.resolve_needs_claim,
            "already_resolved": self._texts.handoff_closed,
            "not_found": self._texts.handoff_missing,
        }
        if closing.outcome in answers:  # "resolved" shows on the root message (the HandoffClosed event)
            await self._ephemeral(channel, user, answers[closing.outcome])

    async def _relay(self, handoff_id: int, user: str, channel: str, thread_ts: str, raw: str) -> None:
        agent = await asyncio.to_thread(self._agent_for, user)
        if agent is None:
            await self._ephemeral(channel, user, self._texts.not_an_agent, thread_ts)
            return
        reply = await self._handoffs.reply(handoff_id, agent.id, plain_from_slack(raw), via="slack")
        answers = {
            "not_found": self._texts.handoff_missing,
            "resolved": self._texts.handoff_closed,
            "not_yours": self._texts.claim_first,
            "too_long": self._texts.reply_too_long,
        }
        if reply.outcome in answers:
            await self._ephemeral(channel, user, answers[reply.outcome], thread_ts)
        elif reply.outcome == "sent":
            _LOGGER.info("slack_desk.reply_relayed handoff=%d agent=%s", handoff_id, agent.id)

    # -- desk -> Slack ---------------------------------------------------------------------

    async def _post_root(self, handoff_id: int) -> None:
        if await self._threads.get(handoff_id) is not None:
            return
        card = await self._card(handoff_id)
        if card is None:
            return
        text, blocks = root_message(card, self._texts, state=self._texts.state_open, claimable=True, resolvable=True)
        response = await self.client.chat_postMessage(
            channel=self._agents_channel,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        thread = SlackThread(str(response["channel"]), str(response["ts"]))
        if not await self._threads.add(handoff_id, thread):
            await self.client.chat_delete(channel=thread.channel, ts=thread.ts)
            return
        _LOGGER.info("slack_desk.posted handoff=%d", handoff_id)

    async def _thread(self, handoff_id: int) -> SlackThread | None:
        """The handoff's thread; posted now when it is still missing after a short wait.

        In a cluster the replica that opened the handoff posts its root message while another
        may already hear the customer's next message: that one waits for the root, and posts it
        itself when it never comes (its replica died); a second root is deleted, never kept.
        """
        for _ in range(_ROOT_WAIT_STEPS):
            thread = await self._threads.get(handoff_id)
            if thread is not None:
                return thread
            await asyncio.sleep(_ROOT_WAIT_STEP_S)
        await self._post_root(handoff_id)
        return await self._threads.get(handoff_id)

    async def _post_in_thread(self, handoff_id: int, text: str, *, broadcast: bool = False) -> None:
        thread = await self._thread(handoff_id)
        if thread is None:
            _LOGGER.warning("slack_desk.no_thread handoff=%d", handoff_id)
            return
        response = await self.client.chat_postMessage(
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
            await self.client.chat_delete(channel=channel, ts=ts)

    async def _update_root(self, handoff_id: int, state: str, *, claimable: bool, resolvable: bool) -> None:
        thread = await self._thread(handoff_id)
        card = await self._card(handoff_id)
        if thread is None or card is None:
            _LOGGER.warning("slack_desk.no_thread handoff=%d", handoff_id)
            return
        text, blocks = root_message(card, self._texts, state=state, claimable=claimable, resolvable=resolvable)
        await self.client.chat_update(channel=thread.channel, ts=thread.ts, text=text, blocks=blocks)

    async def _ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        await self.client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)

    # -- lookups (SQL in a thread) ---------------------------------------------------------

    async def _card(self, handoff_id: int) -> HandoffCard | None:
        view = await self._handoffs.get(handoff_id)
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
        )

    def _conversation_facts(self, conversation_id: str) -> tuple[str, str | None]:
        with self._sessions() as session:
            row = session.get(Conversation, conversation_id)
            return (row.channel, row.customer_id) if row is not None else ("unknown", None)

    def _agent_for(self, slack_user_id: str) -> SlackAgent | None:
        with self._sessions() as session:
            row = (
                session.execute(select(Agent).where(Agent.slack_user_id == slack_user_id, Agent.active.is_(True)))
                .scalars()
                .first()
            )
            return SlackAgent(row.id, row.name) if row is not None else None

    def _agent_name(self, agent_id: str) -> str:
        with self._sessions() as session:
            row = session.get(Agent, agent_id)
            return str(row.name) if row is not None else agent_id


def _block_action(body: dict[str, Any]) -> tuple[int, str, str] | None:
    """(handoff id, Slack user, channel) of a button press, ``None`` when malformed."""
    try:
        value = str(body["actions"][0]["value"])
        return int(value), str(body["user"]["id"]), str(body["channel"]["id"])
    except (KeyError, IndexError, TypeError, ValueError):
        _LOGGER.warning("slack_desk.bad_action")
        return None
