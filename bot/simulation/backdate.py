"""Spreading a finished simulation over past days: ``bot simulate --backdate-days 7``.

The stack stamps every conversation when it happens, so a run of a few minutes lands on one
day, and a dashboard's trend or after-hours share has nothing to show. With ``--backdate-days``
each visit (one conversation, or a customer's two for a repeat contact) is played now and then
moved, as a whole, to a start drawn over the last days: weekdays busier than weekends, office
hours busier than the night. Every timestamp of its conversations moves by the same amount —
the bot's rows (messages, outcome events, handoffs, help answers, the channel queues) and the
turns in Rasa's tracker store — so the times between them (to claim, to reply, to come back)
stay what the run measured. Only the run's own conversations are touched, by id.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.db.models import Base, Conversation

#: Relative traffic per hour of the day (UTC) and per weekday (Monday first).
HOUR_WEIGHTS = (0.15,) * 6 + (0.4, 0.8) + (1.6,) * 4 + (1.2,) + (1.5,) * 4 + (1.1,) + (0.8,) * 3 + (0.4,) * 3
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.9, 0.55, 0.45)
#: The newest a moved visit may start: a run's own minutes stay clear of the moved days.
NEWEST = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class Moved:
    """What :func:`backdate` moved."""

    visits: int
    conversations: int
    rows: int
    tracker_events: int
    first: dt.datetime | None
    last: dt.datetime | None


def draw_start(rng: random.Random, now: dt.datetime, days: float) -> dt.datetime:
    """A start in [now - days, now - 30 min), by the weekday and hour weights."""
    oldest = now - dt.timedelta(days=days)
    span_days = int(days) + 1
    day_choices = [(now - dt.timedelta(days=k)).date() for k in range(span_days + 1)]
    while True:
        day = rng.choices(day_choices, weights=[WEEKDAY_WEIGHTS[d.weekday()] for d in day_choices])[0]
        hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        start = dt.datetime.combine(day, dt.time(hour)) + dt.timedelta(seconds=rng.uniform(0, 3600))
        if oldest <= start < now - NEWEST:
            return start


def backdate(
    engine: Engine,
    tracker_url: str | None,
    visits: Mapping[int, Sequence[str]],
    *,
    days: float,
    seed: int,
    now: dt.datetime,
) -> Moved:
    """Move each visit's conversations (``visits``: ids by the visit's place) to a start over the last ``days`` days.

    ``now`` is naive UTC, as the database's timestamps. A visit with no stored conversation is
    skipped. The tracker store, when given, has its events' ``timestamp`` (column and JSON) moved.
    """
    starts = _starts(engine, [cid for visit in visits.values() for cid in visit])
    shifts: dict[str, dt.timedelta] = {}
    moved_visits = 0
    targets: list[dt.datetime] = []
    for index, visit in sorted(visits.items()):
        known = [starts[cid] for cid in visit if cid in starts]
        if not known:
            continue
        target = draw_start(random.Random(f"{seed}:backdate:{index}"), now, days)
        shift = target - min(known)
        shifts.update({cid: shift for cid in visit if cid in starts})
        moved_visits += 1
        targets.append(target)
    rows = _move_bot_rows(engine, shifts)
    tracker_events = _move_tracker(tracker_url, shifts) if tracker_url else 0
    return Moved(
        visits=moved_visits,
        conversations=len(shifts),
        rows=rows,
        tracker_events=tracker_events,
        first=min(targets, default=None),
        last=max(targets, default=None),
    )


def _starts(engine: Engine, ids: list[str]) -> dict[str, dt.datetime]:
    table = Conversation.__table__
    found: dict[str, dt.datetime] = {}
    with engine.connect() as connection:
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for row in connection.execute(sa.select(table.c.id, table.c.created_at).where(table.c.id.in_(chunk))):
                found[row.id] = row.created_at
    return found


def _tables_of_a_conversation() -> list[tuple[sa.Table, sa.Column, list[sa.Column]]]:
    """Every table with a conversation's rows: its key column to a conversation, and its timestamps."""
    found = []
    for table in Base.metadata.sorted_tables:
        key = table.c.id if table.name == Conversation.__tablename__ else table.c.get("conversation_id")
        stamps = [column for column in table.c if isinstance(column.type, sa.DateTime)]
        if key is not None and stamps:
            found.append((table, key, stamps))
    return found


def _move_bot_rows(engine: Engine, shifts: dict[str, dt.timedelta]) -> int:
    moved = 0
    with engine.begin() as connection:
        for table, key, stamps in _tables_of_a_conversation():
            primary = list(table.primary_key.columns)
            for cid, shift in shifts.items():
                rows = connection.execute(sa.select(*primary, *stamps).where(key == cid)).all()
                for row in rows:
                    values = {c.name: getattr(row, c.name) + shift for c in stamps if getattr(row, c.name) is not None}
                    if values:
                        where = sa.and_(*(c == getattr(row, c.name) for c in primary))
                        connection.execute(table.update().where(where).values(**values))
                        moved += 1
    return moved


def _move_tracker(tracker_url: str, shifts: dict[str, dt.timedelta]) -> int:
    tracker = sa.create_engine(tracker_url)
    moved = 0
    try:
        if not sa.inspect(tracker).has_table("events"):
            return 0
        with tracker.begin() as connection:
            for cid, shift in shifts.items():
                seconds = shift.total_seconds()
                rows = connection.execute(
                    sa.text("SELECT id, timestamp, data FROM events WHERE sender_id = :cid"), {"cid": cid}
                ).all()
                for row in rows:
                    data = json.loads(row.data or "{}")
                    if "timestamp" in data:
                        data["timestamp"] = float(data["timestamp"]) + seconds
                    connection.execute(
                        sa.text("UPDATE events SET timestamp = :ts, data = :data WHERE id = :id"),
                        {"ts": float(row.timestamp) + seconds, "data": json.dumps(data), "id": row.id},
                    )
                    moved += 1
    finally:
        tracker.dispose()
    return moved
