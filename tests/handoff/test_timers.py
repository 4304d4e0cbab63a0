"""Business hours, the queue notice, and the handoff timers (escalation, silent customers)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.conversations.hub import ConversationHub
from bot.conversations.service import ConversationService
from bot.conversations.store import ConversationStore
from bot.db.engine import session_factory
from bot.db.models import Agent, Handoff, HandoffStatus, Message, Sender
from bot.handoff.events import (
    AgentWrote,
    CustomerWrote,
    HandoffClosed,
    HandoffEscalated,
    HandoffEvent,
    HandoffEvents,
    HandoffOpened,
)
from bot.handoff.hours import BusinessHours, HoursError, load_hours
from bot.handoff.queue import queue_notice
from bot.handoff.requests import HandoffRequests
from bot.handoff.timers import HandoffTimers
from bot.settings import PROJECT_ROOT
from bot.texts import load_texts

HOURS = load_hours(PROJECT_ROOT / "data" / "business_hours.yml")
BERLIN = HOURS.timezone


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


def utc_naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (local(2026, 11, 23, 7, 59), False),  # Monday before 08:00
        (local(2026, 11, 23, 8, 0), True),
        (local(2026, 11, 23, 19, 59), True),
        (local(2026, 11, 23, 20, 0), False),
        (local(2026, 11, 28, 16, 59), True),  # Saturday 09-17
        (local(2026, 11, 28, 17, 0), False),
        (local(2026, 11, 29, 12, 0), False),  # Sunday
        (local(2026, 12, 25, 12, 0), False),  # holiday (a Friday)
        (local(2026, 3, 30, 7, 30), False),  # the Monday after the switch to summer time
        (local(2026, 3, 30, 8, 30), True),
    ],
)
def test_is_open_in_the_business_timezone(moment: dt.datetime, is_open: bool) -> None:
    assert HOURS.is_open(moment) is is_open
    assert HOURS.is_open(utc_naive(moment)) is is_open  # naive values are UTC


def test_next_open_skips_nights_weekends_and_holidays() -> None:
    assert HOURS.next_open(local(2026, 11, 28, 17, 30)) == local(2026, 11, 30, 8, 0)
    assert HOURS.next_open(local(2026, 11, 23, 6, 0)) == local(2026, 11, 23, 8, 0)
    assert HOURS.next_open(local(2026, 12, 23, 21, 0)) == local(2026, 12, 28, 8, 0)  # 24-26 Dec off, 27 Sunday
    noon = local(2026, 11, 24, 12, 0)
    assert HOURS.next_open(noon) == noon


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("timezone: Europe/Berlin", "timezone: Mars/Olympus"), "IANA"),
        (('  monday: ["08:00", "20:00"]', '  monday: ["8am", "20:00"]'), "hours.monday"),
        (('  monday: ["08:00", "20:00"]', '  monday: ["20:00", "08:00"]'), "before closing"),
        (("  sunday: closed\n", ""), "every weekday"),
        (("escalate_after_minutes: 10", "escalate_after_minutes: -5"), "escalate_after_minutes"),
        (('"2026-12-24"', '"24.12.2026"'), "holidays"),
    ],
)
def test_broken_hours_files_are_refused_clearly(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = (PROJECT_ROOT / "data" / "business_hours.yml").read_text(encoding="utf-8")
    assert change[0] in text
    path = tmp_path / "business_hours.yml"
    path.write_text(text.replace(change[0], change[1]), encoding="utf-8")
    with pytest.raises(HoursError, match=message):
        load_hours(path)


class Recorder:
    """A handoff listener that records what it hears."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    async def on_handoff_event(self, event: HandoffEvent) -> None:
        match event:
            case HandoffOpened():
                self.events.append(("opened", event.handoff_id))
            case HandoffEscalated():
                self.events.append(("escalated", event.handoff_id))
            case CustomerWrote():
                self.events.append(("customer", event.handoff_id))
            case AgentWrote():
                self.events.append(("agent", event.handoff_id))
            case HandoffClosed(how=how):
                self.events.append((how, event.handoff_id))


def _timers(engine: Engine, recorder: Recorder, hours: BusinessHours = HOURS) -> tuple[HandoffTimers, Any]:
    store = ConversationStore(engine)
    events = HandoffEvents()
    service = ConversationService(
        store=store,
        hub=ConversationHub(),
        dialogue=None,  # type: ignore[arg-type]  # the timers never ask the bot
        texts=load_texts(PROJECT_ROOT / "data" / "texts.yml"),
        handoff_events=events,
    )
    events.subscribe(recorder)
    timers = HandoffTimers(engine, hours, conversations=service, events=events, closing_text="closed for silence")
    return timers, store


def _handoff(engine: Engine, conversation: str, created: dt.datetime) -> int:
    ref, _ = HandoffRequests(engine).request(conversation, "customer_request", {}, "web")
    with session_factory(engine).begin() as session:
        session.get(Handoff, ref.id).created_at = utc_naive(created)
    return ref.id


async def test_unclaimed_handoffs_escalate_once_and_across_restarts(migrated_engine: Engine) -> None:
    recorder = Recorder()
    timers, _ = _timers(migrated_engine, recorder)
    in_hours = _handoff(migrated_engine, "c-day", local(2026, 11, 23, 10, 0))
    at_night = _handoff(migrated_engine, "c-night", local(2026, 11, 23, 22, 0))
    assert timers.escalation_due(utc_naive(local(2026, 11, 23, 22, 0))) == utc_naive(local(2026, 11, 24, 8, 10))

    assert (await timers.check(utc_naive(local(2026, 11, 23, 10, 9)))).escalated == ()
    assert (await timers.check(utc_naive(local(2026, 11, 23, 10, 10)))).escalated == (in_hours,)
    assert (await timers.check(utc_naive(local(2026, 11, 23, 23, 0)))).escalated == ()

    restarted, _ = _timers(migrated_engine, recorder)  # a new gateway process: nothing in memory
    assert (await restarted.check(utc_naive(local(2026, 11, 24, 8, 9)))).escalated == ()
    assert (await restarted.check(utc_naive(local(2026, 11, 24, 8, 10)))).escalated == (at_night,)
    assert recorder.events == [("escalated", in_hours), ("escalated", at_night)]


async def test_a_claimed_handoff_is_not_escalated(migrated_engine: Engine) -> None:
    timers, _ = _timers(migrated_engine, Recorder())
    handoff_id = _handoff(migrated_engine, "c-claimed", local(2026, 11, 23, 10, 0))
    with session_factory(migrated_engine).begin() as session:
        session.get(Handoff, handoff_id).status = HandoffStatus.CLAIMED
    assert (await timers.check(utc_naive(local(2026, 11, 23, 12, 0)))).escalated == ()


async def test_a_silent_customer_closes_the_handoff(migrated_engine: Engine) -> None:
    recorder = Recorder()
    timers, store = _timers(migrated_engine, recorder)
    claimed_at = local(2026, 11, 23, 10, 0)
    silent = _handoff(migrated_engine, "c-silent", claimed_at)
    talking = _handoff(migrated_engine, "c-talking", claimed_at)
    with session_factory(migrated_engine).begin() as session:
        for handoff_id in (silent, talking):
            row = session.get(Handoff, handoff_id)
            row.status, row.claimed_at = HandoffStatus.CLAIMED, utc_naive(claimed_at)
        for conversation, sender, minute in (
            ("c-silent", Sender.AGENT, 5),
            ("c-talking", Sender.AGENT, 5),
            ("c-talking", Sender.CUSTOMER, 6),
        ):
            at = utc_naive(local(2026, 11, 23, 10, minute))
            session.add(Message(conversation_id=conversation, sender=sender, text="...", created_at=at))
    two_hours = utc_naive(local(2026, 11, 23, 12, 4))
    assert (await timers.check(two_hours)).closed == ()
    result = await timers.check(utc_naive(local(2026, 11, 23, 12, 6)))
    assert result.closed == (silent,)  # the other customer answered the agent: still waiting on us
    assert ("expired", silent) in recorder.events
    messages = await store.messages_after("c-silent", 0, 10)
    assert (messages[-1].sender, messages[-1].text) == ("system", "closed for silence")
    assert await store.active_handoff("c-silent") is None


def test_queue_notice_in_and_out_of_hours(migrated_engine: Engine) -> None:
    with session_factory(migrated_engine).begin() as session:
        session.add(Agent(id="AG-01", name="Lena", email="lena@example.com"))
    first = _handoff(migrated_engine, "c-q1", local(2026, 11, 23, 10, 0))
    second = _handoff(migrated_engine, "c-q2", local(2026, 11, 23, 10, 1))
    monday_noon = utc_naive(local(2026, 11, 23, 12, 0))
    assert queue_notice(migrated_engine, HOURS, first, monday_noon) == ("utter_handoff_queued", {"position": "1"})
    assert queue_notice(migrated_engine, HOURS, second, monday_noon) == ("utter_handoff_queued", {"position": "2"})
    sunday = utc_naive(local(2026, 11, 29, 12, 0))
    response, values = queue_notice(migrated_engine, HOURS, second, sunday)
    assert response == "utter_handoff_out_of_hours" and values == {"opens": "Monday at 08:00 (CET)"}
