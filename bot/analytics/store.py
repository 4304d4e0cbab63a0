"""Reading a period's records for the figures, and importing Rasa's turns as outcome events.

:func:`load` reads conversations, outcome events, handoffs (with the first agent reply from
the messages) and help answers from the bot's database. :func:`import_turns` copies the
customer turns Rasa recorded in its tracker store (intent and confidence, never the text)
into ``analytics_events``, once each, so every turn's understanding is counted.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.analytics import events as ev
from bot.analytics.handled import is_trigger, next_actions, taken_as
from bot.analytics.metrics import (
    REPEAT_WINDOW,
    SOCIAL_INTENTS,
    ConversationRow,
    Dataset,
    HandoffRow,
    HelpRow,
    topic_of,
)
from bot.db.models import AnalyticsEvent, Conversation, Handoff, HelpAnswer, Message, Sender

TRACKER_SOURCE = "tracker:"
_IMPORT_BATCH = 2000


def load(engine: Engine, since: dt.datetime, until: dt.datetime) -> Dataset:
    """The rows :func:`bot.analytics.metrics.compute` needs for conversations started in [since, until)."""
    conversations_t, messages_t = Conversation.__table__, Message.__table__
    last_message = (
        sa.select(messages_t.c.conversation_id, sa.func.max(messages_t.c.created_at).label("last_at"))
        .group_by(messages_t.c.conversation_id)
        .subquery()
    )
    query = sa.select(
        conversations_t.c.id,
        conversations_t.c.channel,
        conversations_t.c.customer_id,
        conversations_t.c.created_at,
        last_message.c.last_at,
    ).outerjoin(last_message, last_message.c.conversation_id == conversations_t.c.id)
    with engine.connect() as connection:
        rows = connection.execute(
            query.where(conversations_t.c.created_at >= since, conversations_t.c.created_at < until + REPEAT_WINDOW)
        ).all()
        everything = [
            ConversationRow(r.id, r.channel, r.customer_id, r.created_at, r.last_at or r.created_at) for r in rows
        ]
        ids = [c.id for c in everything]
        events = _events(connection, ids)
        handoffs = _handoffs(connection, [c.id for c in everything if c.created_at < until])
        help_rows = _help(connection, ids)
    inside = [c for c in everything if c.created_at < until]
    first_topic: dict[str, str | None] = {}
    for event in events:
        if event.kind == ev.TURN and event.conversation_id not in first_topic and event.topic not in SOCIAL_INTENTS:
            first_topic[event.conversation_id] = topic_of(event.topic)
    later = [(c, first_topic.get(c.id)) for c in everything if c.created_at >= until]
    return Dataset(conversations=inside, events=events, handoffs=handoffs, help=help_rows, later=later)


def _chunks(values: list[str], size: int = 500) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _events(connection: sa.Connection, ids: list[str]) -> list[ev.OutcomeEvent]:
    table = AnalyticsEvent.__table__
    found: list[ev.OutcomeEvent] = []
    for chunk in _chunks(ids):
        rows = connection.execute(sa.select(table).where(table.c.conversation_id.in_(chunk))).all()
        found += [
            ev.OutcomeEvent(
                kind=r.kind,
                conversation_id=r.conversation_id,
                channel=r.channel,
                customer_id=r.customer_id,
                topic=r.topic,
                value=r.value,
                attrs=r.attrs or {},
                at=r.at,
                source=r.source,
            )
            for r in rows
        ]
    return sorted(found, key=lambda e: (e.at or dt.datetime.min, e.source or ""))


def _handoffs(connection: sa.Connection, ids: list[str]) -> list[HandoffRow]:
    handoffs_t, messages_t = Handoff.__table__, Message.__table__
    # The first agent message after each handoff opened, in the same query (not one query per handoff).
    first_reply_at = (
        sa.select(sa.func.min(messages_t.c.created_at))
        .where(
            messages_t.c.conversation_id == handoffs_t.c.conversation_id,
            messages_t.c.sender == Sender.AGENT,
            messages_t.c.created_at >= handoffs_t.c.created_at,
        )
        .scalar_subquery()
        .label("first_reply_at")
    )
    found: list[HandoffRow] = []
    for chunk in _chunks(ids):
        query = sa.select(handoffs_t, first_reply_at).where(handoffs_t.c.conversation_id.in_(chunk))
        for h in connection.execute(query).all():
            found.append(
                HandoffRow(
                    conversation_id=h.conversation_id,
                    reason=h.reason,
                    created_at=h.created_at,
                    claimed_at=h.claimed_at,
                    first_reply_at=h.first_reply_at,
                    resolved_at=h.resolved_at,
                    escalated_at=h.escalated_at,
                    csat=h.csat,
                    closed_how=h.closed_how,
                )
            )
    return found


def _help(connection: sa.Connection, ids: list[str]) -> list[HelpRow]:
    table = HelpAnswer.__table__
    found: list[HelpRow] = []
    for chunk in _chunks(ids):
        for r in connection.execute(sa.select(table).where(table.c.conversation_id.in_(chunk))).all():
            article = r.section_id.partition("#")[0] if r.section_id else None
            found.append(HelpRow(r.conversation_id, r.decision, article, r.helpful, r.created_at))
    return found


def import_turns(engine: Engine, tracker_url: str, sink: ev.EventSink | None = None) -> int:
    """Copy the customer turns Rasa's tracker store holds and that are not imported yet; how many.

    Each turn becomes a ``turn`` event (the intent as ``topic``, its confidence as ``value``,
    whether it was a button) with the conversation's channel and customer. The tracker row's
    id is the event's ``source``, so a turn is imported once however often this runs.
    """
    sink = sink or ev.SqlEventSink(engine)
    table = AnalyticsEvent.__table__
    with engine.connect() as connection:
        last = connection.execute(
            sa.select(sa.func.max(table.c.source)).where(table.c.source.like(f"{TRACKER_SOURCE}%"))
        ).scalar()
    after = int(str(last).removeprefix(TRACKER_SOURCE)) if last else 0
    tracker = sa.create_engine(tracker_url)
    imported = 0
    try:
        if not sa.inspect(tracker).has_table("events"):
            return 0
        while True:
            with tracker.connect() as connection:
                rows = connection.execute(
                    sa.text(
                        "SELECT id, sender_id, timestamp, intent_name, data FROM events "
                        "WHERE type_name = 'user' AND id > :after ORDER BY id LIMIT :limit"
                    ),
                    {"after": after, "limit": _IMPORT_BATCH},
                ).all()
                handled_by = next_actions(connection, rows)
            if not rows:
                return imported
            events = _turn_events(engine, rows, handled_by)
            try:
                sink.record(events)
            except IntegrityError:  # another importer (a replica's consumer, a report) took some first
                sink.record(events)  # the sink skips the sources now recorded
            imported += len(rows)
            after = int(rows[-1].id)
    finally:
        tracker.dispose()


def _turn_events(engine: Engine, rows: list[Any], handled_by: dict[int, str]) -> list[ev.OutcomeEvent]:
    table = Conversation.__table__
    senders = sorted({str(r.sender_id) for r in rows})
    known: dict[str, tuple[str, str | None]] = {}
    with engine.connect() as connection:
        for chunk in _chunks(senders):
            for c in connection.execute(
                sa.select(table.c.id, table.c.channel, table.c.customer_id).where(table.c.id.in_(chunk))
            ):
                known[c.id] = (c.channel, c.customer_id)
    found = []
    for row in rows:
        data = json.loads(row.data or "{}")
        if is_trigger(data.get("text")):
            continue  # Rasa's triggered intents (an agent resolved...) are not customer turns
        intent = (data.get("parse_data") or {}).get("intent") or {}
        channel, customer = known.get(str(row.sender_id), ("unknown", None))
        name = row.intent_name or intent.get("name")
        action = handled_by.get(int(row.id))
        found.append(
            ev.OutcomeEvent(
                kind=ev.TURN,
                conversation_id=str(row.sender_id),
                channel=channel,
                customer_id=customer,
                topic=taken_as(name, action),
                value=float(intent.get("confidence") or 0.0),
                attrs={"button": str(data.get("text") or "").startswith("/"), "nlu_intent": name, "action": action},
                at=dt.datetime.fromtimestamp(float(row.timestamp), dt.timezone.utc).replace(tzinfo=None),
                source=f"{TRACKER_SOURCE}{int(row.id):012d}",
            )
        )
    return found
