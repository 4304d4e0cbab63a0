"""The handoff desk: list, claim and resolve handoffs (shared by every agent front end).

Claiming is one conditional UPDATE (``WHERE status = 'open'``), so when two agents claim at
the same moment exactly one wins, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.models import Agent, Handoff, HandoffStatus, utcnow

_LOGGER = logging.getLogger(__name__)

ClaimOutcome = Literal[
    "claimed", "already_yours", "taken", "resolved", "not_found", "unknown_agent", "offered_to_another"
]
CloseOutcome = Literal["resolved", "not_yours", "not_claimed", "already_resolved", "not_found"]


@dataclass(frozen=True)
class HandoffView:
    """A handoff as agents see it."""

    id: int
    conversation_id: str
    status: str
    reason: str
    agent_id: str | None
    created_at: dt.datetime
    claimed_at: dt.datetime | None
    resolved_at: dt.datetime | None
    csat: int | None
    packet: dict[str, Any]
    queue: str = "general"
    language: str | None = None
    stage: str = "new"
    offered_to: str | None = None
    tags: tuple[str, ...] = ()
    escalated_at: dt.datetime | None = None
    channel: str | None = None
    #: Place in its own queue and estimated wait in seconds, while open (set by the list).
    position: int | None = None
    wait_estimate_s: int | None = None

    def to_json(self, *, with_packet: bool = True) -> dict[str, Any]:
        """Public JSON shape of the agent API."""

        def iso(value: dt.datetime | None) -> str | None:
            return value.replace(tzinfo=dt.timezone.utc).isoformat() if value else None

        data: dict[str, Any] = {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "status": self.status,
            "reason": self.reason,
            "agent_id": self.agent_id,
            "created_at": iso(self.created_at),
            "claimed_at": iso(self.claimed_at),
            "resolved_at": iso(self.resolved_at),
            "csat": self.csat,
            "summary": self.packet.get("summary"),
            "queue": self.queue,
            "language": self.language,
            "channel": self.channel or self.packet.get("channel"),
            "stage": self.stage,
            "offered_to": self.offered_to,
            "tags": list(self.tags),
            "escalated": self.escalated_at is not None,
            "escalated_at": iso(self.escalated_at),
            "position": self.position,
            "wait_estimate_s": self.wait_estimate_s,
        }
        if with_packet:
            data["packet"] = self.packet
        return data


def _status(value: Any) -> str:
    return value.value if isinstance(value, HandoffStatus) else str(value)


def _view(row: Handoff) -> HandoffView:
    return HandoffView(
        id=row.id,
        conversation_id=row.conversation_id,
        status=_status(row.status),
        reason=row.reason,
        agent_id=row.agent_id,
        created_at=row.created_at,
        claimed_at=row.claimed_at,
        resolved_at=row.resolved_at,
        csat=row.csat,
        packet=dict(row.packet or {}),
        queue=str(row.queue or "general"),
        language=row.language,
        stage=str(row.stage or "new"),
        offered_to=row.offered_to,
        tags=tuple(row.tags or ()),
        escalated_at=row.escalated_at,
    )


class HandoffDesk:
    """Agent-side operations on handoffs (async; SQL runs in a thread)."""

    def __init__(self, engine: Engine) -> None:
        """Use ``engine`` for every query."""
        self._sessions = session_factory(engine)

    async def handoffs(
        self,
        status: str | None = None,
        *,
        queue: str | None = None,
        escalated: bool = False,
        offered_to: str | None = None,
    ) -> list[HandoffView]:
        """Handoffs, oldest first, filtered when asked.

        Only those with ``status`` (open, claimed, resolved), in ``queue``, escalated, or offered to
        ``offered_to`` alone right now.
        """
        return await asyncio.to_thread(self._list, status, queue, escalated, offered_to)

    def _list(
        self, status: str | None, queue: str | None = None, escalated: bool = False, offered_to: str | None = None
    ) -> list[HandoffView]:
        query = select(Handoff).order_by(Handoff.id)
        if status is not None:
            query = query.where(Handoff.status == HandoffStatus(status))
        if queue is not None:
            query = query.where(Handoff.queue == queue)
        if escalated:
            query = query.where(Handoff.escalated_at.is_not(None))
        if offered_to is not None:
            query = query.where(Handoff.stage == "agent", Handoff.offered_to == offered_to)
        with self._sessions() as session:
            return [_view(row) for row in session.execute(query).scalars()]

    async def get(self, handoff_id: int) -> HandoffView | None:
        """One handoff with its packet."""
        return await asyncio.to_thread(self._get, handoff_id)

    def _get(self, handoff_id: int) -> HandoffView | None:
        with self._sessions() as session:
            row = session.get(Handoff, handoff_id)
            return _view(row) if row is not None else None

    async def claim(self, handoff_id: int, agent_id: str) -> ClaimOutcome:
        """Take an open handoff; exactly one of several agents claiming at once wins."""
        return await asyncio.to_thread(self._claim, handoff_id, agent_id)

    def _claim(self, handoff_id: int, agent_id: str) -> ClaimOutcome:
        with self._sessions.begin() as session:
            agent = session.get(Agent, agent_id)
            if agent is None or not agent.active:
                return "unknown_agent"
            # While a handoff is offered to one agent, only that agent may take it.
            offer_free = or_(Handoff.stage != "agent", Handoff.offered_to.is_(None), Handoff.offered_to == agent_id)
            result = session.execute(
                update(Handoff)
                .where(Handoff.id == handoff_id, Handoff.status == HandoffStatus.OPEN, offer_free)
                .values(status=HandoffStatus.CLAIMED, agent_id=agent_id, claimed_at=utcnow(), stage="claimed")
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                _LOGGER.info("handoff.claimed id=%d agent=%s", handoff_id, agent_id)
                return "claimed"
            row = session.get(Handoff, handoff_id)
            if row is None:
                return "not_found"
            if _status(row.status) == HandoffStatus.RESOLVED.value:
                return "resolved"
            if _status(row.status) == HandoffStatus.OPEN.value:
                return "offered_to_another"
            return "already_yours" if row.agent_id == agent_id else "taken"

    async def resolve(self, handoff_id: int, agent_id: str, how: str = "resolved") -> CloseOutcome:
        """Close a handoff claimed by ``agent_id`` (``how``: resolved or handed_back); the bot takes over again."""
        return await asyncio.to_thread(self._resolve, handoff_id, agent_id, how)

    def _resolve(self, handoff_id: int, agent_id: str, how: str = "resolved") -> CloseOutcome:
        with self._sessions.begin() as session:
            result = session.execute(
                update(Handoff)
                .where(
                    Handoff.id == handoff_id,
                    Handoff.status == HandoffStatus.CLAIMED,
                    Handoff.agent_id == agent_id,
                )
                .values(status=HandoffStatus.RESOLVED, resolved_at=utcnow(), closed_how=how)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                _LOGGER.info("handoff.resolved id=%d agent=%s", handoff_id, agent_id)
                return "resolved"
            row = session.get(Handoff, handoff_id)
            if row is None:
                return "not_found"
            status = _status(row.status)
            if status == HandoffStatus.RESOLVED.value:
                return "already_resolved"
            return "not_claimed" if status == HandoffStatus.OPEN.value else "not_yours"
