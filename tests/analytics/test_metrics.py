"""The support figures of a synthetic week whose outcomes are known, on SQLite and PostgreSQL.

Seven conversations, written straight into the tables the bot fills as it runs:

| conversation | channel | customer | what happens |
|---|---|---|---|
| greet | web | - | "hi", nothing else: greeting only |
| empty | web | - | opened, no message |
| contained | web | - | a price question, "thanks"; a help answer marked helpful; no rating |
| handoff | telegram | A | order status twice, asks for a person; claimed 60 s, first reply 120 s, resolved 600 s, CSAT 5 |
| wifi-1 | web | B | Wi-Fi guide: two steps, resolved; bot CSAT 4 |
| wifi-2 | slack | B | two days later, Wi-Fi again: guide exhausted, handoff on a Saturday, escalated, never claimed |
| lost | web | - | two messages the bot did not understand; the help center suggested articles |
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.analytics import events as ev
from bot.analytics.metrics import compute
from bot.analytics.missed import read_missed
from bot.analytics.report import build, parse_span, render
from bot.analytics.store import import_turns, load
from bot.db.models import Conversation, Handoff, HelpAnswer, Message
from tests.orders import add_customer

MONDAY = dt.datetime(2026, 11, 2, 9, 0)
SINCE, UNTIL = MONDAY - dt.timedelta(hours=1), MONDAY + dt.timedelta(days=7)


def is_open(at: dt.datetime) -> bool:
    """Monday to Friday, 08:00-18:00 (UTC in this test)."""
    return at.weekday() < 5 and 8 <= at.hour < 18


def _conversation(engine: Engine, cid: str, channel: str, customer: str | None, at: dt.datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            Conversation.__table__.insert().values(
                id=cid, channel=channel, customer_id=customer, created_at=at, updated_at=at
            )
        )


def _turns(sink: ev.SqlEventSink, engine: Engine, cid: str, channel: str, customer: str | None, start: dt.datetime,
           intents: list[str]) -> None:  # fmt: skip
    events = []
    with engine.begin() as connection:
        for n, intent in enumerate(intents):
            at = start + dt.timedelta(seconds=10 * n)
            connection.execute(
                Message.__table__.insert().values(conversation_id=cid, sender="customer", text="…", created_at=at)
            )
            events.append(
                ev.OutcomeEvent(
                    ev.TURN, cid, channel, customer, intent, 0.4 if intent == "nlu_fallback" else 0.9, at=at
                )
            )
    sink.record(events)


@pytest.fixture
def week(migrated_engine: Engine) -> Engine:
    engine = migrated_engine
    sink = ev.SqlEventSink(engine)
    alice, _ = add_customer(engine)
    bob, _ = add_customer(engine)
    t = MONDAY
    _conversation(engine, "greet", "web", None, t)
    _turns(sink, engine, "greet", "web", None, t, ["greet"])
    _conversation(engine, "empty", "web", None, t)
    _conversation(engine, "contained", "web", None, t + dt.timedelta(hours=1))
    _turns(sink, engine, "contained", "web", None, t + dt.timedelta(hours=1), ["ask_product_price", "thanks"])
    _conversation(engine, "handoff", "telegram", alice, t + dt.timedelta(hours=2))
    _turns(sink, engine, "handoff", "telegram", alice, t + dt.timedelta(hours=2),
           ["order_status", "order_status", "request_human"])  # fmt: skip
    opened = t + dt.timedelta(hours=2, minutes=1)
    _conversation(engine, "wifi-1", "web", bob, t + dt.timedelta(hours=3))
    _turns(sink, engine, "wifi-1", "web", bob, t + dt.timedelta(hours=3),
           ["problem_wifi_drops", "diag_choose", "diag_choose"])  # fmt: skip
    guide_at = t + dt.timedelta(hours=3)
    sink.record(
        [
            ev.OutcomeEvent(ev.GUIDE_STARTED, "wifi-1", "web", bob, "wifi_drops", at=guide_at),
            ev.OutcomeEvent(
                ev.GUIDE_STEP, "wifi-1", "web", bob, "wifi_drops", attrs={"step": "which_device"}, at=guide_at
            ),
            ev.OutcomeEvent(
                ev.GUIDE_STEP, "wifi-1", "web", bob, "wifi_drops", attrs={"step": "status_led"}, at=guide_at
            ),
            ev.OutcomeEvent(ev.GUIDE_RESOLVED, "wifi-1", "web", bob, "wifi_drops", at=guide_at),
            ev.OutcomeEvent(ev.CSAT, "wifi-1", "web", bob, value=4, attrs={"handled_by": "bot"}, at=guide_at),
        ]
    )
    saturday = t + dt.timedelta(days=5, hours=2)
    _conversation(engine, "wifi-2", "slack", bob, saturday)
    _turns(sink, engine, "wifi-2", "slack", bob, saturday, ["problem_wifi_drops", "deny"])
    sink.record(
        [
            ev.OutcomeEvent(ev.GUIDE_STARTED, "wifi-2", "slack", bob, "wifi_drops", at=saturday),
            ev.OutcomeEvent(
                ev.GUIDE_STEP, "wifi-2", "slack", bob, "wifi_drops", attrs={"step": "which_device"}, at=saturday
            ),
            ev.OutcomeEvent(ev.GUIDE_EXHAUSTED, "wifi-2", "slack", bob, "wifi_drops", at=saturday),
        ]
    )
    _conversation(engine, "lost", "web", None, t + dt.timedelta(days=1))
    _turns(sink, engine, "lost", "web", None, t + dt.timedelta(days=1), ["nlu_fallback", "nlu_fallback"])
    with engine.begin() as connection:
        connection.execute(
            Handoff.__table__.insert().values(
                conversation_id="handoff",
                status="resolved",
                reason="customer_request",
                packet={},
                created_at=opened,
                claimed_at=opened + dt.timedelta(seconds=60),
                resolved_at=opened + dt.timedelta(seconds=600),
                csat=5,
            )
        )
        connection.execute(
            Handoff.__table__.insert().values(
                conversation_id="wifi-2",
                status="open",
                reason="diagnostics_exhausted",
                packet={},
                created_at=saturday + dt.timedelta(minutes=1),
                escalated_at=saturday + dt.timedelta(minutes=20),
            )
        )
        connection.execute(
            Message.__table__.insert().values(
                conversation_id="handoff", sender="agent", text="Hi", created_at=opened + dt.timedelta(seconds=120)
            )
        )
        connection.execute(
            HelpAnswer.__table__.insert().values(
                conversation_id="contained",
                decision="answer",
                section_id="returns-policy#how-long",
                score=0.7,
                helpful=True,
                created_at=t + dt.timedelta(hours=1),
            )
        )
        connection.execute(
            HelpAnswer.__table__.insert().values(
                conversation_id="lost",
                decision="suggest",
                section_id="wifi-tips#x",
                score=0.35,
                created_at=t + dt.timedelta(days=1),
            )
        )
    return engine


def test_the_figures_of_a_known_week(week: Engine) -> None:
    report = compute(load(week, SINCE, UNTIL), SINCE, UNTIL, is_open=is_open)

    assert report.conversations == {
        "total": 7,
        "with_request": 5,
        "greeting_only": 1,
        "no_message": 1,
        "not_understood_only": 1,
        "verified_with_request": 3,
    }
    # Only "contained" is a win: "handoff" and "wifi-2" reached a person, "wifi-1" came back
    # about the same thing two days later on another channel, "lost" was never understood.
    assert (report.containment.count, report.containment.of, report.containment.rate) == (1, 5, 0.2)
    assert (report.first_contact_resolution.count, report.first_contact_resolution.of) == (2, 5)  # + "handoff"
    assert (report.repeat_contact.count, report.repeat_contact.of) == (1, 3)
    assert (report.handoff_rate.count, report.handoff_rate.of) == (2, 5)
    assert report.handoffs_by_reason == {"customer_request": 1, "diagnostics_exhausted": 1}
    assert (report.time_to_claim.n, report.time_to_claim.p50) == (1, 60.0)
    assert report.time_to_first_reply.p50 == 120.0 and report.time_to_resolution.p50 == 600.0
    assert report.escalations == 1
    assert (report.after_hours.count, report.after_hours.of) == (1, 2)
    assert (report.csat_bot.n, report.csat_bot.mean, report.csat_bot.distribution["4"]) == (1, 4.0, 1)
    assert (report.csat_agent.n, report.csat_agent.mean) == (1, 5.0)
    assert report.effort == {"turns_to_resolution": 2.0, "repeated_questions": 1, "clarifications": 2}
    assert report.nlu == {"turns": 13, "fallbacks": 2, "fallback_rate": round(2 / 13, 4)}
    wifi = report.guides["wifi_drops"]
    assert (wifi["started"], wifi["resolved"], wifi["exhausted"], wifi["escalated"]) == (2, 1, 1, 1)
    assert wifi["steps"] == [{"step": "which_device", "reached": 2}, {"step": "status_led", "reached": 1}]
    assert report.help["answers"] == 1 and report.help["suggestions"] == 1
    assert report.help["per_article"] == {"returns-policy": {"shown": 1, "helpful": 1, "not_helpful": 0}}
    assert [d["day"] for d in report.per_day] == ["2026-11-02", "2026-11-03", "2026-11-07"]
    assert report.per_day[0] == {
        "day": "2026-11-02",
        "conversations": 5,
        "with_request": 3,
        "contained": 1,
        "handoffs": 1,
    }


def test_a_channel_filter_and_an_empty_period(week: Engine) -> None:
    slack = compute(load(week, SINCE, UNTIL), SINCE, UNTIL, channel="slack", is_open=is_open)
    assert slack.conversations["total"] == 1 and slack.handoff_rate.rate == 1.0
    # wifi-1's repeat happened on another channel: it still is one, counted for the web.
    web = compute(load(week, SINCE, UNTIL), SINCE, UNTIL, channel="web")
    assert web.repeat_contact.count == 1 and web.after_hours.of == 0  # no business hours given: not counted
    before = compute(load(week, SINCE - dt.timedelta(days=30), SINCE), SINCE - dt.timedelta(days=30), SINCE)
    assert before.conversations["total"] == 0 and before.containment.rate is None


def test_a_repeat_after_the_period_still_counts(week: Engine) -> None:
    """The first Monday only: wifi-2 (Saturday) is outside the period but is wifi-1's repeat contact."""
    until = MONDAY + dt.timedelta(days=1)
    report = compute(load(week, SINCE, until), SINCE, until)
    assert report.repeat_contact.count == 1 and report.conversations["total"] == 5


def test_the_report_prints_every_figure(week: Engine) -> None:
    text = render(build(week, None, SINCE, UNTIL, is_open=is_open))
    assert "Containment          20.0% (1 of 5)" in text
    assert "customer_request" in text and "wifi_drops" in text and "CSAT, bot only       4.00 of 5" in text
    assert parse_span("7d") == dt.timedelta(days=7) and parse_span("24h") == dt.timedelta(hours=24)
    with pytest.raises(ValueError, match="not a period"):
        parse_span("last week")


def test_turns_are_imported_from_rasas_tracker_store_once(migrated_engine: Engine, tmp_path: Path) -> None:
    tracker = tmp_path / "tracker.db"
    with sqlite3.connect(tracker) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, timestamp REAL, "
            "intent_name TEXT, action_name TEXT, data TEXT)"
        )
        connection.executemany(
            "INSERT INTO events (id, sender_id, type_name, timestamp, intent_name, action_name, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (1, "c1", "user", MONDAY.timestamp(), "greet", None,
                 '{"text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 0.98}}}'),
                (2, "c1", "action", MONDAY.timestamp(), None, "utter_greet", "{}"),
                (3, "c1", "user", MONDAY.timestamp() + 5, "nlu_fallback", None,
                 '{"text": "blorp", "parse_data": {"intent": {"name": "nlu_fallback", "confidence": 0.31}}}'),
            ],
        )  # fmt: skip
    _conversation(migrated_engine, "c1", "telegram", None, MONDAY)
    url = f"sqlite:///{tracker}"

    assert import_turns(migrated_engine, url) == 2
    assert import_turns(migrated_engine, url) == 0  # nothing new
    with sqlite3.connect(tracker) as connection:
        connection.execute(
            "INSERT INTO events VALUES (4, 'c1', 'user', ?, 'thanks', NULL, "
            '\'{"text": "/thanks", "parse_data": {"intent": {"name": "thanks", "confidence": 1.0}}}\')',
            (MONDAY.timestamp() + 9,),
        )
    assert import_turns(migrated_engine, url) == 1
    with migrated_engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT topic, value, channel, attrs FROM analytics_events WHERE kind = 'turn' ORDER BY source")
        ).all()
    assert [(r.topic, r.value, r.channel) for r in rows] == [
        ("greet", 0.98, "telegram"),
        ("nlu_fallback", 0.31, "telegram"),
        ("thanks", 1.0, "telegram"),
    ]
    assert import_turns(migrated_engine, f"sqlite:///{tmp_path / 'missing.db'}") == 0


def test_unknown_event_kinds_are_refused(migrated_engine: Engine) -> None:
    with pytest.raises(ValueError, match="unknown analytics event kind"):
        ev.SqlEventSink(migrated_engine).record([ev.OutcomeEvent("guide_finished", "c1")])


def test_a_handoff_handed_back_or_gone_quiet_is_no_first_contact_resolution(migrated_engine: Engine) -> None:
    sink = ev.SqlEventSink(migrated_engine)
    for cid, how in (("back", "handed_back"), ("quiet", "silent"), ("done", "resolved")):
        _conversation(migrated_engine, cid, "web", None, MONDAY)
        _turns(sink, migrated_engine, cid, "web", None, MONDAY, ["order_status", "request_human"])
        with migrated_engine.begin() as connection:
            connection.execute(
                Handoff.__table__.insert().values(
                    conversation_id=cid,
                    status="resolved",
                    reason="customer_request",
                    packet={},
                    created_at=MONDAY,
                    claimed_at=MONDAY,
                    resolved_at=MONDAY + dt.timedelta(minutes=5),
                    closed_how=how,
                )
            )
    report = compute(load(migrated_engine, SINCE, UNTIL), SINCE, UNTIL)
    # All reached a person; only the one the agent resolved was settled in this contact.
    assert (report.first_contact_resolution.count, report.first_contact_resolution.of) == (1, 3)
    assert report.containment.count == 0 and report.time_to_resolution.n == 3


def test_what_took_a_turn_decides_whether_it_went_not_understood(migrated_engine: Engine, tmp_path: Path) -> None:
    """A typed guide answer or a form value the language model could not place was understood where it
    mattered; only a turn the bot answered with "did you mean …?" went not understood; triggers are no turns."""
    tracker = tmp_path / "tracker.db"
    fallback = '{"text": "%s", "parse_data": {"intent": {"name": "nlu_fallback", "confidence": 0.2}}}'
    with sqlite3.connect(tracker) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, timestamp REAL, "
            "intent_name TEXT, action_name TEXT, data TEXT)"
        )
        t = MONDAY.timestamp()
        connection.executemany(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (1, "c1", "user", t, "nlu_fallback", None, fallback % "its white"),
                (2, "c2", "user", t, "nlu_fallback", None, fallback % "blorp"),
                (3, "c1", "action", t, None, "action_diagnostic_step", "{}"),
                (4, "c2", "action", t, None, "action_clarify", "{}"),
                (5, "c1", "user", t + 1, "nlu_fallback", None, fallback % "Another reason"),
                (6, "c1", "action", t + 1, None, "action_listen", "{}"),
                (7, "c1", "action", t + 1, None, "service_form", "{}"),
                (8, "c1", "user", t + 2, "handoff_resolved", None, '{"text": "EXTERNAL: handoff_resolved"}'),
                (9, "c1", "action", t + 2, None, "action_handoff_resolved", "{}"),
            ],
        )
    url = f"sqlite:///{tracker}"
    import_turns(migrated_engine, url)
    with migrated_engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT conversation_id, topic FROM analytics_events WHERE kind = 'turn' ORDER BY source")
        ).all()
    assert [(r.conversation_id, r.topic) for r in rows] == [
        ("c1", "diag_choose"),
        ("c2", "nlu_fallback"),
        ("c1", "form_value"),
    ]
    missed = read_missed(url, MONDAY - dt.timedelta(hours=1), MONDAY + dt.timedelta(hours=1), 0.45)
    assert [m.text for m in missed] == ["blorp"]
