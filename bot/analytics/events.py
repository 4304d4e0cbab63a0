"""Outcome events: what happened in a conversation, recorded as it happens.

Producers (the action server for guides, self-service and CSAT; :mod:`bot.analytics.turns` for
the turns Rasa understood or not) hand :class:`OutcomeEvent` items to an :class:`EventSink`.
On one host the sink writes the ``analytics_events`` table directly (:class:`SqlEventSink`);
in a cluster a sink that publishes to RabbitMQ and a consumer that calls
:meth:`SqlEventSink.record` take its place, with the same events. Events never hold a
customer's words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.db.models import AnalyticsEvent, utcnow

TURN = "turn"
GUIDE_STARTED = "guide_started"
GUIDE_STEP = "guide_step"
GUIDE_RESOLVED = "guide_resolved"
GUIDE_ABANDONED = "guide_abandoned"
GUIDE_EXHAUSTED = "guide_exhausted"
SERVICE_DONE = "service_done"
SERVICE_REFUSED = "service_refused"
CSAT = "csat"
KINDS = frozenset(
    {
        TURN,
        GUIDE_STARTED,
        GUIDE_STEP,
        GUIDE_RESOLVED,
        GUIDE_ABANDONED,
        GUIDE_EXHAUSTED,
        SERVICE_DONE,
        SERVICE_REFUSED,
        CSAT,
    }
)
"""The kinds of event; handoffs, help answers and messages have tables of their own (docs/analytics.md)."""


@dataclass(frozen=True)
class OutcomeEvent:
    """One thing that happened in a conversation.

    Attributes:
        kind: One of :data:`KINDS`.
        conversation_id: The conversation (the gateway's id, also Rasa's sender id).
        channel: ``web``, ``telegram``, ``slack``, ``direct``... (``unknown`` if not known).
        customer_id: The verified customer, or None.
        topic: The intent of a turn, the guide of a guide event, the request of a self-service event.
        value: A turn's confidence, a CSAT score.
        attrs: Small extras: a guide step's id and number, who handled a rated conversation.
        at: When it happened (UTC, naive like the other tables); now when None.
        source: Where an imported event came from; an event with a source already recorded is skipped.
    """

    kind: str
    conversation_id: str
    channel: str = "unknown"
    customer_id: str | None = None
    topic: str | None = None
    value: float | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)
    at: dt.datetime | None = None
    source: str | None = None


class EventSink(Protocol):
    """Takes outcome events (the database on one host; a message queue in a cluster)."""

    def record(self, events: Sequence[OutcomeEvent]) -> None:
        """Record the events (in one go)."""


class SqlEventSink:
    """Writes events to the ``analytics_events`` table (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        """Write through ``engine``."""
        self._engine = engine

    def record(self, events: Sequence[OutcomeEvent]) -> None:
        """Insert the events; unknown kinds raise, already-recorded sources are skipped.

        Raises:
            ValueError: An event's kind is not one of :data:`KINDS`.
        """
        unknown = sorted({e.kind for e in events} - KINDS)
        if unknown:
            raise ValueError(f"unknown analytics event kind(s): {', '.join(unknown)}")
        if not events:
            return
        table = AnalyticsEvent.__table__
        with self._engine.begin() as connection:
            sources = [e.source for e in events if e.source is not None]
            seen: set[str] = set()
            if sources:
                seen = set(connection.execute(sa.select(table.c.source).where(table.c.source.in_(sources))).scalars())
            rows = [
                {
                    "kind": e.kind,
                    "conversation_id": e.conversation_id,
                    "channel": e.channel,
                    "customer_id": e.customer_id,
                    "topic": e.topic,
                    "value": e.value,
                    "attrs": dict(e.attrs),
                    "at": e.at or utcnow(),
                    "source": e.source,
                }
                for e in events
                if e.source is None or e.source not in seen
            ]
            if rows:
                connection.execute(table.insert(), rows)


class MemorySink:
    """Keeps events in a list (tests, and a process without a database)."""

    def __init__(self) -> None:
        """Start empty."""
        self.events: list[OutcomeEvent] = []

    def record(self, events: Sequence[OutcomeEvent]) -> None:
        """Append the events."""
        self.events.extend(events)
