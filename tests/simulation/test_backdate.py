"""``bot simulate --backdate-days``: a played run moved over past days, each visit as a whole, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.analytics import events as ev
from bot.analytics.store import import_turns
from bot.db.models import AnalyticsEvent, Conversation, Handoff, HelpAnswer, Message
from bot.simulation.backdate import NEWEST, backdate, draw_start

NOW = dt.datetime(2026, 12, 5, 12, 0)


def test_starts_fall_in_the_window_busier_on_weekdays_and_in_office_hours() -> None:
    rng = random.Random(3)
    starts = [draw_start(rng, NOW, 7) for _ in range(3000)]
    assert all(NOW - dt.timedelta(days=7) <= s < NOW - NEWEST for s in starts)
    by_day = Counter(s.date() for s in starts)
    assert len(by_day) == 8  # seven days back and today's morning
    weekday = Counter(s.weekday() for s in starts)
    assert min(weekday[d] for d in range(4)) > 1.4 * max(weekday[5], weekday[6])
    office = sum(1 for s in starts if 8 <= s.hour < 17)
    night = sum(1 for s in starts if s.hour < 6)
    assert office > 5 * night > 0
    again = random.Random(3)
    assert [draw_start(again, NOW, 7) for _ in range(3000)] == starts  # the seed decides


def _played(engine: Engine, cid: str, at: dt.datetime, *, handoff: bool = False) -> None:
    """A conversation as the stack leaves it: two messages, a turn event, a help answer, maybe a handoff."""
    with engine.begin() as connection:
        connection.execute(
            Conversation.__table__.insert().values(id=cid, channel="direct", created_at=at, updated_at=at)
        )
        for n in range(2):
            connection.execute(
                Message.__table__.insert().values(
                    conversation_id=cid, sender="customer", text="…", created_at=at + dt.timedelta(seconds=n)
                )
            )
        connection.execute(
            HelpAnswer.__table__.insert().values(
                conversation_id=cid, decision="answer", section_id="returns#window", score=0.8, created_at=at
            )
        )
        if handoff:
            connection.execute(
                Handoff.__table__.insert().values(
                    conversation_id=cid,
                    status="resolved",
                    reason="customer_request",
                    packet={},
                    created_at=at,
                    claimed_at=at + dt.timedelta(seconds=60),
                    resolved_at=at + dt.timedelta(seconds=300),
                )
            )
    ev.SqlEventSink(engine).record([ev.OutcomeEvent(ev.GUIDE_STARTED, cid, "direct", None, "wifi_drops", at=at)])


def _stamps(engine: Engine, cid: str) -> list[dt.datetime]:
    """Every timestamp the bot stored for ``cid``, in a fixed order."""
    found: list[dt.datetime] = []
    with engine.connect() as connection:
        for table, key, columns in (
            (Conversation.__table__, "id", ("created_at", "updated_at")),
            (Message.__table__, "conversation_id", ("created_at",)),
            (HelpAnswer.__table__, "conversation_id", ("created_at",)),
            (Handoff.__table__, "conversation_id", ("created_at", "claimed_at", "resolved_at")),
            (AnalyticsEvent.__table__, "conversation_id", ("at",)),
        ):
            for row in connection.execute(sa.select(table).where(table.c[key] == cid).order_by(table.c[columns[0]])):
                found += [getattr(row, c) for c in columns]
    return found


def _tracker(path: Path, rows: list[tuple[int, str, float]]) -> str:
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, timestamp REAL, "
            "intent_name TEXT, action_name TEXT, data TEXT)"
        )
        connection.executemany(
            "INSERT INTO events VALUES (?, ?, 'user', ?, 'greet', NULL, ?)",
            [
                (
                    i,
                    sender,
                    ts,
                    json.dumps({"timestamp": ts, "text": "hi", "parse_data": {"intent": {"name": "greet"}}}),
                )
                for i, sender, ts in rows
            ],
        )
    return f"sqlite:///{path}"


def test_each_visit_moves_as_a_whole_and_nothing_else_moves(migrated_engine: Engine, tmp_path: Path) -> None:
    played = NOW - dt.timedelta(minutes=5)
    _played(migrated_engine, "sim-a", played, handoff=True)
    _played(migrated_engine, "sim-a-again", played + dt.timedelta(minutes=2))  # the same customer back
    _played(migrated_engine, "sim-b", played + dt.timedelta(seconds=30))
    _played(migrated_engine, "someone-else", played)
    tracker_url = _tracker(
        tmp_path / "tracker.db",
        [(1, "sim-a", played.timestamp()), (2, "sim-b", played.timestamp() + 30), (3, "someone-else", 0.0)],
    )
    before = {cid: _stamps(migrated_engine, cid) for cid in ("sim-a", "sim-a-again", "sim-b", "someone-else")}

    moved = backdate(
        migrated_engine,
        tracker_url,
        {0: ("sim-a", "sim-a-again"), 1: ("sim-b",), 2: ("sim-never-stored",)},
        days=7,
        seed=11,
        now=NOW,
    )

    assert (moved.visits, moved.conversations, moved.tracker_events) == (2, 3, 2)
    after = {cid: _stamps(migrated_engine, cid) for cid in before}
    assert after["someone-else"] == before["someone-else"]
    shifts = {}
    for cid in ("sim-a", "sim-a-again", "sim-b"):
        deltas = {a - b for a, b in zip(after[cid], before[cid], strict=True)}
        assert len(deltas) == 1, (cid, deltas)  # every row by the same amount: the gaps stay as played
        shifts[cid] = deltas.pop()
    assert shifts["sim-a"] == shifts["sim-a-again"] != shifts["sim-b"]  # a visit moves together
    for cid in ("sim-a", "sim-b"):
        start = after[cid][0]
        assert NOW - dt.timedelta(days=7) <= start < NOW - NEWEST
    assert moved.first == min(after["sim-a"][0], after["sim-b"][0])

    with sqlite3.connect(tmp_path / "tracker.db") as connection:
        rows = {
            r[0]: (r[1], json.loads(r[2])["timestamp"])
            for r in connection.execute("SELECT sender_id, timestamp, data FROM events")
        }
    assert rows["someone-else"] == (0.0, 0.0)
    for cid in ("sim-a", "sim-b"):
        column, in_json = rows[cid]
        assert column == in_json == before[cid][0].timestamp() + shifts[cid].total_seconds()
    # Turns imported afterwards land on the moved day too.
    assert import_turns(migrated_engine, tracker_url) == 3
    with migrated_engine.connect() as connection:
        turn_at = connection.execute(
            sa.text("SELECT at FROM analytics_events WHERE kind = 'turn' AND conversation_id = 'sim-b'")
        ).scalar_one()
    assert abs(_naive(turn_at) - after["sim-b"][0]) < dt.timedelta(seconds=1)


def _naive(value: dt.datetime | str) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
