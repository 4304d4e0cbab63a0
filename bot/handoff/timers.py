"""Handoff timers: escalate unclaimed handoffs, close those whose customer went silent.

Nothing is kept in memory: every check is computed from the database (``created_at``,
``escalated_at``, the conversation's messages), so the timers survive a gateway restart and
several gateways may run them (the conditional UPDATEs let one of them act).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.leases import LeasedLoop, ReplicaLeases
from bot.db.models import Handoff, HandoffStatus, Message, Sender, utcnow
from bot.handoff.events import HandoffClosed, HandoffEscalated, HandoffEvents
from bot.handoff.hours import BusinessHours
from bot.handoff.router import HandoffRouter
from bot.handoff.service import ConversationOutlet

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimerResult:
    """What one check did."""

    escalated: tuple[int, ...] = ()
    closed: tuple[int, ...] = ()


#: The lease of the replica that runs the timers.
LEASE = "handoff_timers"


class HandoffTimers:
    """Runs the checks every ``interval_s`` seconds in the gateway."""

    def __init__(
        self,
        engine: Engine,
        hours: BusinessHours,
        *,
        conversations: ConversationOutlet,
        events: HandoffEvents,
        closing_text: str,
        interval_s: float = 5.0,
        leases: ReplicaLeases | None = None,
        router: HandoffRouter | None = None,
    ) -> None:
        """Check ``engine``'s handoffs against ``hours``; tell customers (``conversations``) and agents (``events``).

        With ``leases`` (several replicas) only the replica holding the ``handoff_timers`` lease
        checks, so an escalation is announced once; another takes over within three intervals
        of the holder's death. With ``router``, each check also times out offers and drops
        agents whose console went silent (:meth:`HandoffRouter.check`).
        """
        self._router = router
        self._sessions = session_factory(engine)
        self._hours = hours
        self._conversations = conversations
        self._events = events
        self._closing_text = closing_text
        self._interval_s = interval_s
        self._leases = leases

    def escalation_due(self, created_at: dt.datetime) -> dt.datetime:
        """When an unclaimed handoff created at ``created_at`` (naive UTC) is escalated (naive UTC).

        The wait counts from the handoff, or from the next opening when it came out of hours.
        """
        start = self._hours.next_open(created_at.replace(tzinfo=dt.timezone.utc))
        due = start + self._hours.escalate_after
        return due.astimezone(dt.timezone.utc).replace(tzinfo=None)

    async def check(self, now: dt.datetime | None = None) -> TimerResult:
        """Escalate and close what is due at ``now`` (naive UTC; default the clock)."""
        moment = now or utcnow()
        if self._router is not None:
            await self._router.check(moment)
        escalated = await asyncio.to_thread(self._escalate, moment)
        for handoff_id, conversation_id in escalated:
            await self._events.publish(HandoffEscalated(handoff_id, conversation_id))
        closed = await asyncio.to_thread(self._close_silent, moment)
        for handoff_id, conversation_id, agent_id in closed:
            await self._conversations.system_message(conversation_id, self._closing_text)
            await self._events.publish(HandoffClosed(handoff_id, agent_id or "", "expired"))
        return TimerResult(tuple(h for h, _ in escalated), tuple(h for h, _, _ in closed))

    def _escalate(self, now: dt.datetime) -> list[tuple[int, str]]:
        done: list[tuple[int, str]] = []
        with self._sessions.begin() as session:
            candidates = session.execute(
                select(Handoff.id, Handoff.conversation_id, Handoff.created_at).where(
                    Handoff.status == HandoffStatus.OPEN, Handoff.escalated_at.is_(None)
                )
            ).all()
            for handoff_id, conversation_id, created_at in candidates:
                if now < self.escalation_due(created_at):
                    continue
                result = session.execute(
                    update(Handoff)
                    .where(Handoff.id == handoff_id, Handoff.escalated_at.is_(None))
                    .values(escalated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:
                    _LOGGER.info("handoff.escalated id=%d", handoff_id)
                    done.append((handoff_id, conversation_id))
        return done

    def _close_silent(self, now: dt.datetime) -> list[tuple[int, str, str | None]]:
        """Claimed handoffs where an agent spoke last, longer ago than the silence limit."""
        limit = now - self._hours.close_silent_after
        done: list[tuple[int, str, str | None]] = []
        with self._sessions.begin() as session:
            claimed = session.execute(
                select(
                    Handoff.id, Handoff.conversation_id, Handoff.agent_id, Handoff.claimed_at, Handoff.created_at
                ).where(Handoff.status == HandoffStatus.CLAIMED)
            ).all()
            for handoff_id, conversation_id, agent_id, claimed_at, created_at in claimed:
                since = claimed_at or created_at
                last = {
                    sender: at
                    for sender, at in session.execute(
                        select(Message.sender, func.max(Message.created_at))
                        .where(Message.conversation_id == conversation_id, Message.created_at >= since)
                        .group_by(Message.sender)
                    ).all()
                }
                agent_at, customer_at = last.get(Sender.AGENT), last.get(Sender.CUSTOMER)
                if agent_at is None or agent_at > limit or (customer_at is not None and customer_at > agent_at):
                    continue
                result = session.execute(
                    update(Handoff)
                    .where(Handoff.id == handoff_id, Handoff.status == HandoffStatus.CLAIMED)
                    .values(status=HandoffStatus.RESOLVED, resolved_at=now, closed_how="silent")
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:
                    _LOGGER.info("handoff.closed_silent id=%d", handoff_id)
                    done.append((handoff_id, conversation_id, agent_id))
        return done

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[HandoffTimers]:
        """Run the checks in the background for the duration of the block."""
        loop = LeasedLoop(
            LEASE, self.check, interval_s=self._interval_s, leases=self._leases, failure="handoff.timers_failed"
        )
        async with loop.running():
            yield self
