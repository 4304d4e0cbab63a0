"""Who gets a handoff: presence and capacity of agents, the first offer, the queue's team.

A new handoff is offered to one agent (stage ``agent``): active, online, holding fewer
handoffs than their capacity (claimed ones plus offers waiting for them), with the queue's
skill, serving the customer's channel, not one who let it pass already; who speaks the
customer's language first, then whoever holds fewest, then whoever waited longest since their
last claim. The offer stands for ``offer_seconds``; then, or at once when nobody fits, the
queue's whole team gets it (stage ``team``). The handoff timers escalate it later as before.
An agent who declines, goes away or offline (or whose console stops its heartbeat) passes
what they were offered to the next agent who fits.

Every change is a conditional UPDATE on the handoff's stage, so several gateway replicas may
route at once and each handoff is offered once; all state is in the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.db.engine import session_factory
from bot.db.models import Agent, AgentPresence, Conversation, Handoff, HandoffNote, HandoffStatus, utcnow
from bot.handoff.events import (
    HandoffEvent,
    HandoffEvents,
    HandoffOffered,
    HandoffOpened,
    HandoffQueued,
    Presence,
    PresenceChanged,
    Via,
)
from bot.handoff.routing import RoutingRules

_LOGGER = logging.getLogger(__name__)

PRESENCES: tuple[Presence, ...] = ("online", "away", "offline")
DeclineOutcome = Literal["declined", "not_offered", "not_found"]


@dataclass(frozen=True)
class AgentStatus:
    """An agent as routing sees them."""

    id: str
    name: str
    presence: Presence
    capacity: int
    load: int  # handoffs held now
    offered: int  # offers waiting for their answer
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    channels: tuple[str, ...]
    slack_user_id: str | None
    last_claim_at: dt.datetime | None = None

    @property
    def has_room(self) -> bool:
        """Whether another offer fits under the capacity."""
        return self.load + self.offered < self.capacity

    def to_json(self) -> dict[str, Any]:
        """The agent API's shape."""
        return {
            "id": self.id,
            "name": self.name,
            "presence": self.presence,
            "capacity": self.capacity,
            "load": self.load,
            "skills": list(self.skills),
            "languages": list(self.languages),
            "channels": list(self.channels),
        }


@dataclass(frozen=True)
class RouteResult:
    """Where a handoff went: ``agent`` (offered to ``agent_id``), ``team``, or ``none`` (not open / already routed)."""

    outcome: Literal["agent", "team", "none"]
    handoff_id: int
    conversation_id: str = ""
    queue: str = ""
    agent_id: str | None = None


def _fresh(presence: AgentPresence | None, now: dt.datetime, timeout: dt.timedelta) -> Presence:
    if presence is None:
        return "offline"
    status = str(presence.status)
    if status not in PRESENCES:
        return "offline"
    if status != "offline" and presence.source == "console" and presence.seen_at < now - timeout:
        return "offline"  # the console stopped its heartbeat
    return status


def _serves(channels: Sequence[str], channel: str | None) -> bool:
    return not channels or channel is None or channel in channels


class HandoffRouter:
    """Offers handoffs to agents (SQL in a thread); announces each offer on the handoff bus."""

    def __init__(
        self, engine: Engine, rules: RoutingRules, events: HandoffEvents, *, offer_s: float | None = None
    ) -> None:
        """Route ``engine``'s handoffs by ``rules``; tell the desks on ``events``.

        ``offer_s`` (when set) replaces the rules' ``offer_seconds``.
        """
        self._sessions = session_factory(engine)
        self.rules = rules
        self._events = events
        self._timeout = dt.timedelta(seconds=rules.heartbeat_timeout_seconds)
        self._offer_for = dt.timedelta(seconds=offer_s or rules.offer_seconds)

    # -- agents --------------------------------------------------------------------------

    def _statuses(self, session: Session, now: dt.datetime, agent_id: str | None = None) -> list[AgentStatus]:
        query = (
            select(Agent, AgentPresence)
            .outerjoin(AgentPresence, AgentPresence.agent_id == Agent.id)
            .where(Agent.active.is_(True))
            .order_by(Agent.id)
        )
        if agent_id is not None:
            query = query.where(Agent.id == agent_id)
        held = dict(
            session.execute(
                select(Handoff.agent_id, func.count(Handoff.id))
                .where(Handoff.status == HandoffStatus.CLAIMED)
                .group_by(Handoff.agent_id)
            ).all()
        )
        offered = dict(
            session.execute(
                select(Handoff.offered_to, func.count(Handoff.id))
                .where(Handoff.status == HandoffStatus.OPEN, Handoff.stage == "agent")
                .group_by(Handoff.offered_to)
            ).all()
        )
        last_claims = dict(
            session.execute(select(Handoff.agent_id, func.max(Handoff.claimed_at)).group_by(Handoff.agent_id)).all()
        )
        return [
            AgentStatus(
                id=str(agent.id),
                name=str(agent.name),
                presence=_fresh(presence, now, self._timeout),
                capacity=int(agent.capacity or 1),
                load=int(held.get(agent.id, 0)),
                offered=int(offered.get(agent.id, 0)),
                skills=tuple(agent.skills or ()),
                languages=tuple(agent.languages or ()),
                channels=tuple(agent.channels or ()),
                slack_user_id=agent.slack_user_id,
                last_claim_at=last_claims.get(agent.id),
            )
            for agent, presence in session.execute(query).all()
        ]

    async def agents(self) -> list[AgentStatus]:
        """Every active agent with presence and load."""
        return await asyncio.to_thread(self._agents)

    def _agents(self) -> list[AgentStatus]:
        with self._sessions() as session:
            return self._statuses(session, utcnow())

    async def agent(self, agent_id: str) -> AgentStatus | None:
        """One active agent's status."""
        return await asyncio.to_thread(self._agent, agent_id)

    def _agent(self, agent_id: str) -> AgentStatus | None:
        with self._sessions() as session:
            found = self._statuses(session, utcnow(), agent_id)
        return found[0] if found else None

    async def set_presence(self, agent_id: str, status: Presence, *, via: Via) -> AgentStatus | None:
        """Set an agent's presence (``via`` api: the console, which must keep a heartbeat).

        Going away or offline passes what the agent was offered to the next agent; coming
        online makes the agent a candidate for new offers. ``None``: no such active agent.
        """
        changed = await asyncio.to_thread(self._set_presence, agent_id, status, via)
        if changed is None:
            return None
        if changed:
            await self._events.publish(PresenceChanged(agent_id, status, via))
            if status != "online":
                await self.reroute_offers_of(agent_id)
        return await self.agent(agent_id)

    def _set_presence(self, agent_id: str, status: Presence, via: Via) -> bool | None:
        now = utcnow()
        source = "console" if via == "api" else str(via)
        with self._sessions.begin() as session:
            agent = session.get(Agent, agent_id)
            if agent is None or not agent.active:
                return None
            row = session.get(AgentPresence, agent_id)
            before = _fresh(row, now, self._timeout)
            if row is None:
                session.add(AgentPresence(agent_id=agent_id, status=status, source=source, changed_at=now, seen_at=now))
            else:
                row.status, row.source, row.seen_at = status, source, now
                if before != status:
                    row.changed_at = now
        _LOGGER.info("agent.presence agent=%s status=%s via=%s", agent_id, status, via)
        return before != status

    async def heartbeat(self, agent_id: str) -> AgentStatus | None:
        """The console is still open: keep the agent's presence (``None``: no such active agent)."""
        await asyncio.to_thread(self._heartbeat, agent_id)
        return await self.agent(agent_id)

    def _heartbeat(self, agent_id: str) -> None:
        now = utcnow()
        with self._sessions.begin() as session:
            # A heartbeat after the timeout does not bring the agent back: they went offline (and
            # their offers moved on); the console says so and the agent picks Online again.
            session.execute(
                update(AgentPresence)
                .where(
                    AgentPresence.agent_id == agent_id,
                    AgentPresence.status != "offline",
                    (AgentPresence.source != "console") | (AgentPresence.seen_at >= now - self._timeout),
                )
                .values(seen_at=now)
                .execution_options(synchronize_session=False)
            )

    # -- routing -------------------------------------------------------------------------

    async def on_handoff_event(self, event: HandoffEvent) -> None:
        """Route a handoff the moment it opens (the periodic check catches any this missed)."""
        if isinstance(event, HandoffOpened):
            await self.route(event.handoff_id)

    def best_agent(
        self,
        agents: Sequence[AgentStatus],
        queue: str,
        language: str | None,
        channel: str | None,
        passed: Sequence[str],
    ) -> AgentStatus | None:
        """The agent to offer a handoff to first, or ``None`` when nobody fits."""
        skill = self.rules.skill_of(queue)
        fits = [
            a
            for a in agents
            if a.presence == "online"
            and a.has_room
            and (skill is None or skill in a.skills)
            and _serves(a.channels, channel)
            and a.id not in passed
        ]
        if not fits:
            return None
        never = dt.datetime.min

        def rank(agent: AgentStatus) -> tuple[bool, int, dt.datetime, str]:
            speaks = language is None or language in agent.languages
            return (not speaks, agent.load + agent.offered, agent.last_claim_at or never, agent.id)

        return min(fits, key=rank)

    async def route(self, handoff_id: int, *, now: dt.datetime | None = None) -> RouteResult:
        """Offer a new (or passed-on) handoff to the best agent, or to its team; announce it."""
        result = await asyncio.to_thread(self._route, handoff_id, now or utcnow(), False, ("new",))
        await self._announce(result)
        return result

    def _route(
        self, handoff_id: int, now: dt.datetime, to_team: bool, stages: tuple[str, ...] = ("agent",)
    ) -> RouteResult:
        """Offer the handoff anew when it is in one of ``stages`` (``new``: not yet routed; ``agent``: pass it on)."""
        with self._sessions.begin() as session:
            row = session.execute(
                select(Handoff, Conversation.channel)
                .join(Conversation, Conversation.id == Handoff.conversation_id)
                .where(Handoff.id == handoff_id)
            ).first()
            if row is None:
                return RouteResult("none", handoff_id)
            handoff, channel = row
            stage = str(handoff.stage or "new")
            if handoff.status != HandoffStatus.OPEN or stage not in stages:
                return RouteResult("none", handoff_id)
            passed = list(handoff.passed_by or [])
            if stage == "agent" and handoff.offered_to and handoff.offered_to not in passed:
                passed.append(handoff.offered_to)
            best = None
            if not to_team:
                agents = self._statuses(session, now)
                best = self.best_agent(agents, str(handoff.queue), handoff.language, channel, passed)
            values: dict[str, Any] = {"passed_by": passed}
            if best is not None:
                values.update(stage="agent", offered_to=best.id, offered_at=now)
            else:
                values.update(stage="team", offered_to=None, offered_at=now)
            done = session.execute(
                update(Handoff)
                .where(
                    Handoff.id == handoff_id,
                    Handoff.status == HandoffStatus.OPEN,
                    Handoff.stage == stage,
                    (Handoff.offered_to == handoff.offered_to)
                    if handoff.offered_to is not None
                    else Handoff.offered_to.is_(None),
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if done.rowcount != 1:
                return RouteResult("none", handoff_id)  # another replica routed it meanwhile
            text = f"Offered to {best.name}" if best is not None else f"Offered to the {handoff.queue} team"
            session.add(HandoffNote(handoff_id=handoff_id, agent_id=None, kind="offer", text=text))
            result = RouteResult(
                "agent" if best is not None else "team",
                handoff_id,
                str(handoff.conversation_id),
                str(handoff.queue),
                best.id if best is not None else None,
            )
        _LOGGER.info("handoff.routed id=%d queue=%s to=%s", handoff_id, result.queue, result.agent_id or "team")
        return result

    async def _announce(self, result: RouteResult) -> None:
        if result.outcome == "agent" and result.agent_id is not None:
            await self._events.publish(HandoffOffered(result.handoff_id, result.conversation_id, result.agent_id))
        elif result.outcome == "team":
            await self._events.publish(HandoffQueued(result.handoff_id, result.conversation_id, result.queue))

    async def decline(self, handoff_id: int, agent_id: str) -> DeclineOutcome:
        """The offered agent lets the handoff pass: the next agent who fits gets it (or the team)."""
        offered = await asyncio.to_thread(self._offered_to, handoff_id)
        if offered is None:
            return "not_found"
        if offered != agent_id:
            return "not_offered"
        result = await asyncio.to_thread(self._route, handoff_id, utcnow(), False)
        await self._announce(result)
        return "declined" if result.outcome != "none" else "not_offered"

    def _offered_to(self, handoff_id: int) -> str | None:
        with self._sessions() as session:
            row = session.get(Handoff, handoff_id)
            if row is None:
                return None
            if row.status != HandoffStatus.OPEN or row.stage != "agent":
                return ""
            return str(row.offered_to or "")

    async def reroute_offers_of(self, agent_id: str) -> list[RouteResult]:
        """Pass on what ``agent_id`` was offered (they went away or offline)."""
        ids = await asyncio.to_thread(self._offers_of, agent_id)
        results = []
        for handoff_id in ids:
            result = await asyncio.to_thread(self._route, handoff_id, utcnow(), False)
            await self._announce(result)
            results.append(result)
        return results

    def _offers_of(self, agent_id: str) -> list[int]:
        with self._sessions() as session:
            return list(
                session.execute(
                    select(Handoff.id).where(
                        Handoff.status == HandoffStatus.OPEN, Handoff.stage == "agent", Handoff.offered_to == agent_id
                    )
                ).scalars()
            )

    async def check(self, now: dt.datetime | None = None) -> list[RouteResult]:
        """The periodic pass: route new handoffs nobody routed, time out offers, drop silent consoles."""
        moment = now or utcnow()
        results: list[RouteResult] = []
        gone = await asyncio.to_thread(self._expire_presence, moment)
        for agent_id in gone:
            await self._events.publish(PresenceChanged(agent_id, "offline", "timers"))
        new, expired, orphaned = await asyncio.to_thread(self._due, moment)
        for handoff_id in new:
            result = await asyncio.to_thread(self._route, handoff_id, moment, False, ("new",))
            await self._announce(result)
            results.append(result)
        for handoff_id in orphaned:
            result = await asyncio.to_thread(self._route, handoff_id, moment, False)
            await self._announce(result)
            results.append(result)
        for handoff_id in expired:
            result = await asyncio.to_thread(self._route, handoff_id, moment, True)
            await self._announce(result)
            results.append(result)
        return results

    def _expire_presence(self, now: dt.datetime) -> list[str]:
        limit = now - self._timeout
        with self._sessions.begin() as session:
            stale = list(
                session.execute(
                    select(AgentPresence.agent_id).where(
                        AgentPresence.source == "console",
                        AgentPresence.status != "offline",
                        AgentPresence.seen_at < limit,
                    )
                ).scalars()
            )
            if stale:
                session.execute(
                    update(AgentPresence)
                    .where(AgentPresence.agent_id.in_(stale), AgentPresence.seen_at < limit)
                    .values(status="offline", changed_at=now)
                    .execution_options(synchronize_session=False)
                )
        for agent_id in stale:
            _LOGGER.info("agent.presence agent=%s status=offline via=heartbeat_timeout", agent_id)
        return stale

    def _due(self, now: dt.datetime) -> tuple[list[int], list[int], list[int]]:
        """New handoffs (missed by their replica), offers timed out, offers whose agent is no longer online."""
        with self._sessions() as session:
            rows = session.execute(
                select(Handoff.id, Handoff.stage, Handoff.offered_to, Handoff.offered_at, Handoff.created_at).where(
                    Handoff.status == HandoffStatus.OPEN, Handoff.stage.in_(("new", "agent"))
                )
            ).all()
            if not rows:
                return [], [], []
            online = {a.id for a in self._statuses(session, now) if a.presence == "online"}
        new, expired, orphaned = [], [], []
        for handoff_id, stage, offered_to, offered_at, created_at in rows:
            if stage == "new":
                if created_at <= now - dt.timedelta(seconds=2):  # the opening replica had its chance
                    new.append(handoff_id)
            elif offered_at is not None and offered_at + self._offer_for <= now:
                expired.append(handoff_id)
            elif offered_to not in online:
                orphaned.append(handoff_id)
        return new, expired, orphaned
