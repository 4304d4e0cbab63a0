"""What agents type to the Slack desk: the ``/support`` command, the App Home tab and thread shortcuts.

``/support online|away|offline|status|transfer|note|tag|canned`` is answered ephemerally in the
acknowledgement itself (its response body), after the :class:`~bot.handoff.service.HandoffService`
acted: that is quick (the database and the event bus; Slack work the events call for is queued).
In a handoff's thread, a reply starting with ``note:`` is an internal note and ``canned:<id>``
sends a canned reply: neither text reaches the customer as typed.

The desk's own event listener must know where an action came from (a reply typed in the thread
is in Slack already; a canned reply sent from the thread is not): :data:`ORIGIN` says so to the
listener, which the service calls within the same task before it returns.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.agentdesk.blocks import PRESENCES, home_view, join_words
from bot.agentdesk.roster import SlackAgent, SlackRoster
from bot.agentdesk.texts import SlackDeskTexts
from bot.handoff.events import Presence
from bot.handoff.service import HandoffService
from bot.slack.mrkdwn import escape_mrkdwn, plain_from_slack

_LOGGER = logging.getLogger(__name__)

#: Where the Slack action being carried out came from: ``"thread"`` (an agent's reply typed in a
#: handoff's thread), ``"note"`` (a ``note:`` typed there), ``"canned:<id>"`` (a canned reply sent
#: from Slack), ``""`` (anything else).
ORIGIN: ContextVar[str] = ContextVar("slack_desk_origin", default="")

_SHORTCUT = re.compile(r"\s*(note|canned)\s*:\s*(.*)", re.IGNORECASE | re.DOTALL)
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_AGENT_ID = re.compile(r"AG-[A-Za-z0-9]+", re.IGNORECASE)


@contextlib.contextmanager
def origin(value: str) -> Iterator[None]:
    """Mark the service calls made inside as coming from ``value`` (see :data:`ORIGIN`)."""
    token = ORIGIN.set(value)
    try:
        yield
    finally:
        ORIGIN.reset(token)


@dataclass(frozen=True)
class Shortcut:
    """A thread reply that is an instruction: ``note`` (its text) or ``canned`` (the reply's id)."""

    kind: str
    argument: str


def parse_shortcut(raw: str) -> Shortcut | None:
    """``note: <text>`` or ``canned:<id>`` (any case, spaces allowed around the colon); else ``None``."""
    found = _SHORTCUT.fullmatch(raw)
    if found is None:
        return None
    kind, rest = found.group(1).lower(), found.group(2).strip()
    return Shortcut(kind, rest if kind == "note" else (rest.split() or [""])[0])


@dataclass(frozen=True)
class ShortcutAnswer:
    """What the thread shortcut came to: ``react`` (a note was stored) and/or a text for its author alone."""

    react: bool = False
    text: str | None = None


class SupportCommands:
    """``/support``, the App Home tab, and the ``note:`` / ``canned:`` thread shortcuts."""

    def __init__(
        self,
        *,
        handoffs: HandoffService,
        roster: SlackRoster,
        texts: SlackDeskTexts,
        tags_changed: Callable[[int], None],
    ) -> None:
        """Act through ``handoffs``; ``tags_changed(handoff_id)`` queues the root message's update."""
        self._handoffs = handoffs
        self._roster = roster
        self._texts = texts
        self._tags_changed = tags_changed

    # -- /support ---------------------------------------------------------------------------

    async def handle(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        """The ``/support`` listener: act, then acknowledge with the answer (ephemeral)."""
        user, text = str(command.get("user_id", "")), str(command.get("text", ""))
        try:
            answer = await self.answer(user, text)
        except Exception:  # an answer all the same: Slack would only say "failed with the error"
            _LOGGER.exception("slack_desk.command_failed")
            answer = self._texts.command_failed
        await ack(text=answer, response_type="ephemeral")

    async def answer(self, user: str, text: str) -> str:
        """The answer to ``/support <text>`` typed by Slack member ``user``."""
        words = text.split()
        sub = words[0].lower() if words else "help"
        if sub == "help" or sub not in (*PRESENCES, "status", "transfer", "note", "tag", "canned"):
            return self._texts.help
        agent = await self._roster.agent_for(user)
        if agent is None:
            return self._texts.not_an_agent
        if sub in PRESENCES:
            status = await self._handoffs.set_presence(agent.id, cast(Presence, sub), via="slack")
            return self._texts.not_an_agent if status is None else self._texts.presence_set.format(status=sub)
        if sub == "status":
            return await self.status_line(agent)
        if sub == "canned" and len(words) <= 2:
            return await self._canned_list(agent, words[1] if len(words) == 2 else None)
        usage = {
            "transfer": self._texts.usage_transfer,
            "note": self._texts.usage_note,
            "tag": self._texts.usage_tag,
            "canned": self._texts.usage_canned,
        }[sub]
        if len(words) < 3:
            return usage
        handoff_id = _handoff_number(words[1])
        if handoff_id is None:
            return self._texts.bad_handoff.format(value=escape_mrkdwn(words[1]))
        rest = text.split(None, 2)[2]
        if sub == "transfer":
            return await self._transfer(handoff_id, agent, words[2], rest[len(words[2]) :].strip())
        if sub == "note":
            return await self._note(handoff_id, agent, rest) or self._texts.note_stored.format(id=handoff_id)
        if sub == "tag":
            return await self._tag(handoff_id, agent, rest)
        return await self._canned(handoff_id, agent, words[2]) or self._texts.canned_sent.format(
            reply=escape_mrkdwn(words[2]), id=handoff_id
        )

    async def status_line(self, agent: SlackAgent) -> str:
        """The agent's presence, load and queues."""
        status = await self._handoffs.agent_status(agent.id)
        if status is None:
            return self._texts.not_an_agent
        return self._texts.status.format(
            status=status.presence,
            load=status.load,
            capacity=status.capacity,
            skills=join_words(list(status.skills), self._texts),
            languages=join_words(list(status.languages), self._texts),
        )

    async def _transfer(self, handoff_id: int, agent: SlackAgent, target: str, note: str) -> str:
        to_agent: str | None = None
        to_queue: str | None = None
        mention = _MENTION.fullmatch(target)
        if mention is not None:
            named = await self._roster.agent_for(mention.group(1))
            if named is None:
                return self._texts.unknown_agent.format(target=escape_mrkdwn(target))
            to_agent = named.id
        elif _AGENT_ID.fullmatch(target):
            to_agent = target.upper()
        else:
            to_queue = target.lower()
        result = await self._handoffs.transfer(
            handoff_id, agent.id, to_agent=to_agent, to_queue=to_queue, note=plain_from_slack(note) or None, via="slack"
        )
        name = escape_mrkdwn(await self._roster.name(to_agent)) if to_agent else ""
        answers = {
            "transferred": (
                self._texts.transferred_agent.format(id=handoff_id, name=name)
                if to_agent
                else self._texts.transferred_queue.format(id=handoff_id, queue=escape_mrkdwn(to_queue or ""))
            ),
            "not_found": self._texts.handoff_missing,
            "not_yours": self._texts.not_yours,
            "resolved": self._texts.handoff_closed,
            "unknown_agent": self._texts.unknown_agent.format(target=escape_mrkdwn(target)),
            "agent_unavailable": self._texts.agent_unavailable.format(name=name),
            "unknown_queue": self._texts.unknown_queue.format(target=escape_mrkdwn(target)),
            "same_agent": self._texts.same_agent,
        }
        return answers.get(result.outcome, self._texts.help)

    async def _tag(self, handoff_id: int, agent: SlackAgent, raw: str) -> str:
        tags = [tag for tag in re.split(r"[\s,]+", plain_from_slack(raw)) if tag]
        result = await self._handoffs.set_tags(handoff_id, agent.id, tags)
        if result.outcome == "tagged":
            self._tags_changed(handoff_id)
            if not result.tags:
                return self._texts.untagged.format(id=handoff_id)
            return self._texts.tagged.format(id=handoff_id, tags=escape_mrkdwn(", ".join(result.tags)))
        if result.outcome == "not_found":
            return self._texts.handoff_missing
        return self._texts.tags_invalid

    async def _canned_list(self, agent: SlackAgent, handoff: str | None) -> str:
        handoff_id = _handoff_number(handoff) if handoff is not None else None
        if handoff is not None and handoff_id is None:
            return self._texts.usage_canned
        replies = await self._handoffs.canned_replies(handoff_id, agent.id if handoff_id is not None else None)
        if not replies:
            return self._texts.canned_none
        lines = [self._texts.canned_header]
        for reply in replies:
            template = self._texts.canned_line_missing if reply.missing else self._texts.canned_line
            lines.append(
                template.format(
                    reply=escape_mrkdwn(reply.id),
                    title=escape_mrkdwn(reply.title),
                    missing=escape_mrkdwn(", ".join(reply.missing)),
                )
            )
        return "\n".join(lines)

    # -- shared by /support and the thread shortcuts ------------------------------------------

    async def _note(self, handoff_id: int, agent: SlackAgent, raw: str) -> str | None:
        """Store an internal note; ``None`` when stored, else why not."""
        result = await self._handoffs.add_note(handoff_id, agent.id, plain_from_slack(raw), via="slack")
        answers = {
            "not_found": self._texts.handoff_missing,
            "resolved": self._texts.handoff_closed,
            "empty": self._texts.note_empty,
            "too_long": self._texts.note_too_long,
        }
        return None if result.outcome == "added" else answers.get(result.outcome, self._texts.note_empty)

    async def _canned(self, handoff_id: int, agent: SlackAgent, reply_id: str) -> str | None:
        """Send a canned reply (shown in the thread by the desk's listener); ``None`` when sent, else why not."""
        with origin(f"canned:{reply_id}"):
            reply = await self._handoffs.reply_canned(handoff_id, agent.id, reply_id, via="slack")
        answers = {
            "not_found": self._texts.handoff_missing,
            "resolved": self._texts.handoff_closed,
            "not_yours": self._texts.claim_first,
            "unknown_reply": self._texts.canned_unknown.format(reply=escape_mrkdwn(reply_id)),
            "unfilled": self._texts.canned_unfilled.format(reply=escape_mrkdwn(reply_id)),
            "too_long": self._texts.reply_too_long,
        }
        if reply.outcome == "sent":
            _LOGGER.info("slack_desk.canned_sent handoff=%d agent=%s reply=%s", handoff_id, agent.id, reply_id)
            return None
        return answers.get(reply.outcome, self._texts.handoff_missing)

    async def shortcut(self, handoff_id: int, agent: SlackAgent, shortcut: Shortcut) -> ShortcutAnswer:
        """Carry out a ``note:`` or ``canned:`` typed in the handoff's thread."""
        if shortcut.kind == "note":
            with origin("note"):  # the note is the agent's own message in the thread: not posted again
                problem = await self._note(handoff_id, agent, shortcut.argument)
            return ShortcutAnswer(react=True) if problem is None else ShortcutAnswer(text=problem)
        if not shortcut.argument:
            return ShortcutAnswer(text=self._texts.usage_canned)
        return ShortcutAnswer(text=await self._canned(handoff_id, agent, shortcut.argument))

    # -- App Home ---------------------------------------------------------------------------

    async def home(self, user: str) -> dict[str, Any] | None:
        """The App Home view of Slack member ``user``; ``None`` for someone who is not an agent."""
        agent = await self._roster.agent_for(user)
        if agent is None:
            return None
        status = await self._handoffs.agent_status(agent.id)
        return home_view(self._texts, await self.status_line(agent), status.presence if status else None)

    async def set_presence(self, user: str, presence: str) -> bool:
        """A presence button of the App Home; whether ``user`` is an agent."""
        agent = await self._roster.agent_for(user)
        if agent is None or presence not in PRESENCES:
            return False
        return await self._handoffs.set_presence(agent.id, cast(Presence, presence), via="slack") is not None


def _handoff_number(word: str) -> int | None:
    """``12`` or ``#12``."""
    digits = word.removeprefix("#")
    return int(digits) if digits.isdigit() and len(digits) < 10 else None
