"""The Slack agent desk: handoffs offered to agents by DM, posted to an agents' channel, worked there.

The router offers a new handoff to one agent first (``HandoffOffered``: a DM with "Accept" and
"Decline", :mod:`bot.agentdesk.offers`); when it goes to its queue's team (``HandoffQueued``)
it gets a root message (summary, queue, language + "Claim" / "Resolve") in the agents' channel.
The customer's messages go into its thread, and the claiming agent's thread replies go to the
customer on their own channel; ``note:`` and ``canned:<id>`` replies and the ``/support``
command are in :mod:`bot.agentdesk.commands`. Slack reaches the desk through the gateway's
``POST /slack/events`` (signed; slack-bolt verifies it) or through Socket Mode.

Work is acknowledged to Slack at once and done in background jobs, one chain per handoff, so a
handoff's messages keep their order and a slow Slack or Rasa never delays an acknowledgement.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from sqlalchemy.engine import Engine

from bot.agentdesk.blocks import ACCEPT_ACTION, CLAIM_ACTION, DECLINE_ACTION, PRESENCE_ACTION_PREFIX, RESOLVE_ACTION
from bot.agentdesk.commands import ORIGIN, SupportCommands, origin, parse_shortcut
from bot.agentdesk.jobs import HandoffJobs
from bot.agentdesk.offers import SlackOffers
from bot.agentdesk.roots import HandoffRoots
from bot.agentdesk.roster import SlackRoster
from bot.agentdesk.texts import SlackDeskTexts
from bot.agentdesk.threads import SlackThread, SlackThreads
from bot.db.leases import SeenEvents
from bot.handoff.events import (
    AgentWrote,
    CustomerWrote,
    HandoffClaimed,
    HandoffClosed,
    HandoffEscalated,
    HandoffEvent,
    HandoffOffered,
    HandoffQueued,
    HandoffTransferred,
    NoteAdded,
    PresenceChanged,
)
from bot.handoff.service import HandoffService
from bot.slack.app import SlackApp
from bot.slack.mrkdwn import escape_mrkdwn, plain_from_slack

_LOGGER = logging.getLogger(__name__)

_CLOSED_STATES = {"resolved": "state_resolved", "handed_back": "state_handed_back", "expired": "state_expired"}
#: Presence changes and App Home work have no handoff: their own job chain.
_AGENTS_CHAIN = 0


class SlackDesk:
    """A :class:`~bot.handoff.events.HandoffListener` that runs the agent desk in Slack.

    Agents' buttons, commands and thread replies become calls of the :class:`HandoffService`;
    handoff events (from any front end) become posts and updates in the channel and the DMs.
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
        self._texts = texts or SlackDeskTexts()
        self._threads = SlackThreads(engine, legacy_threads_file)
        self._roster = SlackRoster(engine)
        self._roots = HandoffRoots(
            client=slack.client,
            agents_channel=agents_channel,
            handoffs=handoffs,
            threads=self._threads,
            roster=self._roster,
            texts=self._texts,
            engine=engine,
        )
        self._jobs = HandoffJobs()
        # Slack retries an event it thinks was lost, maybe to another replica: ids kept in the database.
        self._seen_events = SeenEvents(engine, "slack_desk")
        self.slack = slack
        self.client = slack.client
        self._offers = SlackOffers(
            client=self.client,
            handoffs=handoffs,
            threads=self._threads,
            roster=self._roster,
            texts=self._texts,
            card=self._roots.card,
            ephemeral=self._ephemeral,
        )
        self._commands = SupportCommands(
            handoffs=handoffs, roster=self._roster, texts=self._texts, tags_changed=self._tags_changed
        )
        bolt = slack.bolt
        bolt.action(CLAIM_ACTION)(self._on_claim)
        bolt.action(RESOLVE_ACTION)(self._on_resolve)
        bolt.action(ACCEPT_ACTION)(self._on_offer_answer)
        bolt.action(DECLINE_ACTION)(self._on_offer_answer)
        bolt.action(re.compile(f"^{PRESENCE_ACTION_PREFIX}(online|away|offline)$"))(self._on_presence_button)
        bolt.command("/support")(self._commands.handle)
        bolt.event("app_home_opened")(self._on_home_opened)
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
        jobs = self._jobs
        match event:
            case HandoffOffered(handoff_id=handoff_id, agent_id=agent_id):
                jobs.submit(handoff_id, lambda: self._offered(handoff_id, agent_id), "offered")
            case HandoffQueued(handoff_id=handoff_id, queue=queue):
                jobs.submit(handoff_id, lambda: self._queued(handoff_id, queue), "queued")
            case HandoffEscalated(handoff_id=handoff_id):
                # A note in the thread, also shown in the channel itself.
                note = self._texts.escalated
                jobs.submit(
                    handoff_id, lambda: self._roots.post_in_thread(handoff_id, note, broadcast=True), "escalated"
                )
            case HandoffClaimed(handoff_id=handoff_id, agent_id=agent_id):
                jobs.submit(handoff_id, lambda: self._show_claimed(handoff_id, agent_id), "claimed")
            case CustomerWrote(handoff_id=handoff_id, message=message):
                text = self._texts.customer_wrote.format(text=escape_mrkdwn(message.text))
                jobs.submit(handoff_id, lambda: self._post_for_agents(handoff_id, text), "customer")
            case AgentWrote(handoff_id=handoff_id, agent_id=agent_id, message=message, via=via):
                came_from = ORIGIN.get()
                if came_from == "thread" or (via == "slack" and not came_from):
                    return  # a reply typed in Slack is in the thread already
                canned = came_from.removeprefix("canned:") if came_from.startswith("canned:") else None
                jobs.submit(handoff_id, lambda: self._echo_reply(handoff_id, agent_id, message.text, canned), "agent")
            case NoteAdded(handoff_id=handoff_id, agent_id=agent_id, text=text):
                if ORIGIN.get() != "note":  # a note: typed in the thread is there already (with a reaction)
                    jobs.submit(handoff_id, lambda: self._show_note(handoff_id, agent_id, text), "note")
            case HandoffTransferred(handoff_id=handoff_id):
                transferred = event
                jobs.submit(handoff_id, lambda: self._show_transfer(transferred), "transferred")
            case HandoffClosed(handoff_id=handoff_id, agent_id=agent_id, how=how):
                jobs.submit(handoff_id, lambda: self._show_closed(handoff_id, agent_id, how), "closed")
            case PresenceChanged(agent_id=agent_id, via=via) if via != "slack":
                jobs.submit(_AGENTS_CHAIN, lambda: self._refresh_home(agent_id), "presence")

    async def _offered(self, handoff_id: int, agent_id: str) -> None:
        """A DM to the agent; a root message already in the channel (a transfer to a queue) says so too."""
        await self._offers.offer(handoff_id, agent_id)
        await self._roots.refresh(handoff_id, post=False)

    async def _queued(self, handoff_id: int, queue: str) -> None:
        """The handoff went to its queue's team: the offer has passed, the channel gets (or updates) its root."""
        await self._offers.settle(handoff_id, self._texts.offer_queued.format(queue=escape_mrkdwn(queue)))
        await self._roots.refresh(handoff_id)

    async def _show_claimed(self, handoff_id: int, agent_id: str) -> None:
        name = await self._roster.name(agent_id)
        await self._offers.settle(handoff_id, self._texts.offer_claimed.format(name=escape_mrkdwn(name)))
        await self._roots.refresh(handoff_id)  # an offer accepted in a DM gets its root (and thread) now

    async def _echo_reply(self, handoff_id: int, agent_id: str, text: str, canned: str | None) -> None:
        """A reply sent from another front end, or a canned one sent from Slack, copied into the thread."""
        name = escape_mrkdwn(await self._roster.name(agent_id))
        if canned is None:
            post = self._texts.agent_wrote.format(name=name, text=escape_mrkdwn(text))
        else:
            post = self._texts.canned_wrote.format(name=name, reply=escape_mrkdwn(canned), text=escape_mrkdwn(text))
        await self._post_for_agents(handoff_id, post)

    async def _show_note(self, handoff_id: int, agent_id: str, text: str) -> None:
        name = escape_mrkdwn(await self._roster.name(agent_id))
        await self._post_for_agents(handoff_id, self._texts.note_added.format(name=name, text=escape_mrkdwn(text)))

    async def _show_transfer(self, event: HandoffTransferred) -> None:
        """Who passed it to whom (the new holder is mentioned), or back to a queue: Claim is offered again."""
        handoff_id = event.handoff_id
        name = escape_mrkdwn(await self._roster.name(event.from_agent))
        await self._offers.settle(handoff_id, self._texts.offer_passed)
        await self._roots.refresh(handoff_id)
        if event.to_agent is None:
            text = self._texts.transferred_to_queue.format(name=name, queue=escape_mrkdwn(event.queue))
            await self._roots.post_in_thread(handoff_id, text, broadcast=True)
            return
        slack_user = await self._roster.slack_user(event.to_agent)
        to = f"<@{slack_user}>" if slack_user else f"*{escape_mrkdwn(await self._roster.name(event.to_agent))}*"
        await self._roots.post_in_thread(handoff_id, self._texts.transferred_to_agent.format(name=name, to=to))

    async def _show_closed(self, handoff_id: int, agent_id: str, how: str) -> None:
        """The outcome on the root message, its buttons removed (and on any standing offer)."""
        await self._offers.settle(handoff_id, self._texts.offer_closed)
        if await self._roots.not_in_channel(handoff_id):
            return  # closed while only offered: nothing in the channel to update
        name = await self._roster.name(agent_id)
        template = getattr(self._texts, _CLOSED_STATES.get(how, "state_resolved"))
        await self._roots.update(handoff_id, template.format(name=name), claimable=False, resolvable=False)

    def _tags_changed(self, handoff_id: int) -> None:
        self._jobs.submit(handoff_id, lambda: self._roots.refresh(handoff_id, post=False), "tags")

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

    async def _on_offer_answer(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Accept or Decline pressed on an offer DM."""
        await ack()
        action = _block_action(body)
        message_ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts")
        if action is None or not message_ts:
            return
        handoff_id, user, channel = action
        offer = SlackThread(channel, str(message_ts))
        if body["actions"][0].get("action_id") == ACCEPT_ACTION:
            self._jobs.submit(handoff_id, lambda: self._offers.accept(handoff_id, user, offer), "accept")
        else:
            self._jobs.submit(handoff_id, lambda: self._offers.decline(handoff_id, user, offer), "decline")

    async def _on_presence_button(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """A presence button of the App Home."""
        await ack()
        try:
            user, presence = str(body["user"]["id"]), str(body["actions"][0]["value"])
        except (KeyError, IndexError, TypeError):
            return

        async def job() -> None:
            if await self._commands.set_presence(user, presence):
                await self._publish_home(user)

        self._jobs.submit(_AGENTS_CHAIN, job, "presence_button")

    async def _on_home_opened(self, event: dict[str, Any]) -> None:
        if event.get("tab") == "home" and event.get("user"):
            user = str(event["user"])
            self._jobs.submit(_AGENTS_CHAIN, lambda: self._publish_home(user), "home")

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any]) -> bool:
        """Take the agents' replies in handoff threads (``True``); leave every other message."""
        channel, thread_ts = str(event.get("channel", "")), event.get("thread_ts")
        if event.get("subtype") or event.get("bot_id") or not event.get("user"):
            return self.is_desk_channel(channel)  # edits, joins, files, bots (including this desk's own posts)
        if not isinstance(thread_ts, str) or thread_ts == event.get("ts"):
            return self.is_desk_channel(channel)  # not a thread reply
        handoff_id = await self._threads.handoff_for(channel, thread_ts)
        if handoff_id is None:
            if await self._threads.offer_for(channel, thread_ts) is not None:  # a reply under an offer DM
                await self._ephemeral(channel, str(event["user"]), self._texts.offer_thread_reply, thread_ts)
                return True
            return self.is_desk_channel(channel)
        event_id = str(body.get("event_id") or event.get("client_msg_id") or event.get("ts"))
        if not await asyncio.to_thread(self._seen_events.first_time, event_id):
            _LOGGER.info("slack_desk.duplicate_event event=%s", event_id)
            return True
        user, text, ts = str(event["user"]), str(event.get("text", "")), str(event.get("ts", ""))
        thread = SlackThread(channel, thread_ts)
        self._jobs.submit(handoff_id, lambda: self._relay(handoff_id, user, thread, ts, text), "reply")
        return True

    async def _claim(self, handoff_id: int, user: str, channel: str) -> None:
        agent = await self._roster.agent_for(user)
        if agent is None:
            await self._ephemeral(channel, user, self._texts.not_an_agent)
            return
        outcome = await self._handoffs.claim(handoff_id, agent.id, via="slack")
        refused = self._texts.claim_refused(outcome)
        if refused is not None:  # "claimed" shows on the root message (the HandoffClaimed event)
            await self._ephemeral(channel, user, refused)

    async def _resolve(self, handoff_id: int, user: str, channel: str) -> None:
        agent = await self._roster.agent_for(user)
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

    async def _relay(self, handoff_id: int, user: str, thread: SlackThread, ts: str, raw: str) -> None:
        """An agent's thread reply: to the customer, or a ``note:`` / ``canned:`` shortcut."""
        agent = await self._roster.agent_for(user)
        if agent is None:
            await self._ephemeral(thread.channel, user, self._texts.not_an_agent, thread.ts)
            return
        shortcut = parse_shortcut(raw)
        if shortcut is not None:
            answer = await self._commands.shortcut(handoff_id, agent, shortcut)
            if answer.react:
                await self.client.reactions_add(channel=thread.channel, timestamp=ts, name=self._texts.note_reaction)
            if answer.text:
                await self._ephemeral(thread.channel, user, answer.text, thread.ts)
            return
        with origin("thread"):
            reply = await self._handoffs.reply(handoff_id, agent.id, plain_from_slack(raw), via="slack")
        answers = {
            "not_found": self._texts.handoff_missing,
            "resolved": self._texts.handoff_closed,
            "not_yours": self._texts.claim_first,
            "too_long": self._texts.reply_too_long,
        }
        if reply.outcome in answers:
            await self._ephemeral(thread.channel, user, answers[reply.outcome], thread.ts)
        elif reply.outcome == "sent":
            _LOGGER.info("slack_desk.reply_relayed handoff=%d agent=%s", handoff_id, agent.id)

    # -- desk -> Slack ---------------------------------------------------------------------

    async def _post_for_agents(self, handoff_id: int, text: str) -> None:
        """Into the handoff's thread; while it is only offered, under the offer DM."""
        if await self._roots.not_in_channel(handoff_id):
            if not await self._offers.post_in_offer(handoff_id, text):
                _LOGGER.info("slack_desk.not_shown handoff=%d (offered to an agent outside Slack)", handoff_id)
            return
        await self._roots.post_in_thread(handoff_id, text)

    async def _ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        await self.client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)

    async def _publish_home(self, user: str) -> None:
        view = await self._commands.home(user)
        if view is not None:
            await self.client.views_publish(user_id=user, view=view)

    async def _refresh_home(self, agent_id: str) -> None:
        """An agent's presence changed elsewhere: their App Home shows it."""
        user = await self._roster.slack_user(agent_id)
        if user is not None:
            await self._publish_home(user)


def _block_action(body: dict[str, Any]) -> tuple[int, str, str] | None:
    """(handoff id, Slack user, channel) of a button press, ``None`` when malformed."""
    try:
        value = str(body["actions"][0]["value"])
        return int(value), str(body["user"]["id"]), str(body["channel"]["id"])
    except (KeyError, IndexError, TypeError, ValueError):
        _LOGGER.warning("slack_desk.bad_action")
        return None
