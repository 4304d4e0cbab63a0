"""Agents' tools on a handoff: internal notes, tags, and transfer to another agent or queue.

Notes are rows of ``handoff_notes`` and never messages of the conversation, so no channel can
ever deliver one to the customer. The same table keeps the handoff's history (offers,
transfers) for the agents, with ``kind`` telling them apart.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.models import Agent, AgentPresence, Handoff, HandoffNote, HandoffStatus, utcnow

_LOGGER = logging.getLogger(__name__)

NoteOutcome = Literal["added", "not_found", "resolved", "empty", "too_long"]
TagsOutcome = Literal["tagged", "not_found", "invalid"]
TransferOutcome = Literal[
    "transferred",
    "not_found",
    "not_yours",
    "resolved",
    "unknown_agent",
    "agent_unavailable",
    "unknown_queue",
    "same_agent",
]
_TAG = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")
MAX_TAGS = 10
MAX_NOTE_CHARS = 4000


def _iso(value: dt.datetime | None) -> str | None:
    return value.replace(tzinfo=dt.timezone.utc).isoformat() if value else None


@dataclass(frozen=True)
class NoteView:
    """An internal note, or an entry of the handoff's history (``kind`` offer, transfer)."""

    id: int
    handoff_id: int
    agent_id: str | None
    kind: str
    text: str
    created_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """The agent API's shape."""
        return {
            "id": self.id,
            "handoff_id": self.handoff_id,
            "agent_id": self.agent_id,
            "kind": self.kind,
            "text": self.text,
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class NoteResult:
    """What became of a note (``note`` when added)."""

    outcome: NoteOutcome
    note: NoteView | None = None


@dataclass(frozen=True)
class TagsResult:
    """The handoff's tags after the change."""

    outcome: TagsOutcome
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class TransferResult:
    """What became of a transfer; ``to_agent`` holds the handoff now, or it waits in ``queue``."""

    outcome: TransferOutcome
    conversation_id: str = ""
    to_agent: str | None = None
    queue: str = ""


def clean_tags(tags: Sequence[Any]) -> tuple[str, ...] | None:
    """Lower-case, de-duplicated tags, or ``None`` when one is not a tag (``a-z0-9_-``, 30 characters)."""
    cleaned: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not _TAG.fullmatch(tag.strip().lower()):
            return None
        if tag.strip().lower() not in cleaned:
            cleaned.append(tag.strip().lower())
    return tuple(cleaned) if len(cleaned) <= MAX_TAGS else None


def _note_view(row: HandoffNote) -> NoteView:
    return NoteView(row.id, row.handoff_id, row.agent_id, str(row.kind), str(row.text), row.created_at)


class HandoffTools:
    """Notes, tags and transfers (SQL in a thread)."""

    def __init__(self, engine: Engine, queues: Sequence[str]) -> None:
        """Use ``engine``; ``queues``: the queue ids of routing.yml."""
        self._sessions = session_factory(engine)
        self._queues = frozenset(queues)

    async def add_note(self, handoff_id: int, agent_id: str, text: str, kind: str = "note") -> NoteResult:
        """Store an internal note on an unresolved handoff (any agent may)."""
        return await asyncio.to_thread(self._add_note, handoff_id, agent_id, text, kind)

    def _add_note(self, handoff_id: int, agent_id: str | None, text: str, kind: str) -> NoteResult:
        if not text:
            return NoteResult("empty")
        if len(text) > MAX_NOTE_CHARS:
            return NoteResult("too_long")
        with self._sessions.begin() as session:
            handoff = session.get(Handoff, handoff_id)
            if handoff is None:
                return NoteResult("not_found")
            if handoff.status == HandoffStatus.RESOLVED:
                return NoteResult("resolved")
            note = HandoffNote(handoff_id=handoff_id, agent_id=agent_id, kind=kind, text=text)
            session.add(note)
            session.flush()
            view = _note_view(note)
        _LOGGER.info("handoff.note id=%d agent=%s kind=%s", handoff_id, agent_id, kind)
        return NoteResult("added", view)

    async def notes(self, handoff_id: int) -> list[NoteView]:
        """A handoff's notes and history, oldest first."""
        return await asyncio.to_thread(self._notes, handoff_id)

    def _notes(self, handoff_id: int) -> list[NoteView]:
        with self._sessions() as session:
            rows = session.execute(
                select(HandoffNote).where(HandoffNote.handoff_id == handoff_id).order_by(HandoffNote.id)
            ).scalars()
            return [_note_view(row) for row in rows]

    async def set_tags(self, handoff_id: int, tags: Sequence[Any]) -> TagsResult:
        """Replace a handoff's tags (resolved ones too: tags serve reporting)."""
        cleaned = clean_tags(tags)
        if cleaned is None:
            return TagsResult("invalid")
        return await asyncio.to_thread(self._set_tags, handoff_id, cleaned)

    def _set_tags(self, handoff_id: int, tags: tuple[str, ...]) -> TagsResult:
        with self._sessions.begin() as session:
            done = session.execute(
                update(Handoff)
                .where(Handoff.id == handoff_id)
                .values(tags=list(tags))
                .execution_options(synchronize_session=False)
            )
        return TagsResult("tagged", tags) if done.rowcount == 1 else TagsResult("not_found")

    async def transfer(
        self, handoff_id: int, agent_id: str, *, to_agent: str | None, to_queue: str | None, note: str | None
    ) -> TransferResult:
        """Pass a claimed handoff to another agent (who holds it at once) or back to a queue (routed anew)."""
        return await asyncio.to_thread(self._transfer, handoff_id, agent_id, to_agent, to_queue, note)

    def _transfer(
        self, handoff_id: int, agent_id: str, to_agent: str | None, to_queue: str | None, note: str | None
    ) -> TransferResult:
        if to_queue is not None and to_queue not in self._queues:
            return TransferResult("unknown_queue")
        if to_agent == agent_id:
            return TransferResult("same_agent")
        now = utcnow()
        with self._sessions.begin() as session:
            handoff = session.get(Handoff, handoff_id)
            if handoff is None:
                return TransferResult("not_found")
            if handoff.status == HandoffStatus.RESOLVED:
                return TransferResult("resolved")
            if handoff.status != HandoffStatus.CLAIMED or handoff.agent_id != agent_id:
                return TransferResult("not_yours")
            conversation_id, queue = str(handoff.conversation_id), str(handoff.queue)
            if to_agent is not None:
                target = session.get(Agent, to_agent)
                if target is None or not target.active:
                    return TransferResult("unknown_agent")
                presence = session.get(AgentPresence, to_agent)
                held = session.execute(
                    select(func.count(Handoff.id)).where(
                        Handoff.status == HandoffStatus.CLAIMED, Handoff.agent_id == to_agent
                    )
                ).scalar_one()
                if presence is None or presence.status == "offline" or int(held) >= int(target.capacity or 1):
                    return TransferResult("agent_unavailable")
                values: dict[str, Any] = {"agent_id": to_agent, "claimed_at": now}
                text = f"Transferred from {agent_id} to {to_agent}"
            else:
                queue = str(to_queue)
                values = {
                    "status": HandoffStatus.OPEN,
                    "agent_id": None,
                    "claimed_at": None,
                    "queue": queue,
                    "stage": "new",
                    "offered_to": None,
                    "offered_at": None,
                    "passed_by": [agent_id],
                }
                text = f"Transferred from {agent_id} to the {queue} queue"
            done = session.execute(
                update(Handoff)
                .where(Handoff.id == handoff_id, Handoff.status == HandoffStatus.CLAIMED, Handoff.agent_id == agent_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if done.rowcount != 1:
                return TransferResult("not_yours")
            session.add(HandoffNote(handoff_id=handoff_id, agent_id=agent_id, kind="transfer", text=text))
            if note:
                session.add(HandoffNote(handoff_id=handoff_id, agent_id=agent_id, kind="note", text=note))
        _LOGGER.info("handoff.transferred id=%d from=%s to=%s queue=%s", handoff_id, agent_id, to_agent, queue)
        return TransferResult("transferred", conversation_id, to_agent, queue)
