"""No turn runs in a conversation while it is erased, so nothing in flight writes it back (issue 14, point 9)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.channels.inbox import ErasureBlocked, ErasureLock, Inbox
from bot.db.engine import session_factory
from bot.db.models import Erasure, InboxItem, utcnow


async def test_an_erasure_waits_for_the_turn_in_flight_and_keeps_new_ones_out(migrated_engine: Engine) -> None:
    inbox = Inbox(migrated_engine, "replica-1")
    for number in (1, 2):
        assert await inbox.accept("web", f"c-erase:m{number}", "c-erase", {"text": f"m{number}"})
    assert await inbox.accept("web", "c-other:m1", "c-other", {"text": "elsewhere"})
    [in_flight, other] = await inbox.claim(["web"])  # a worker is running c-erase's first turn
    assert (in_flight.external_id, other.external_id) == ("c-erase:m1", "c-other:m1")
    await inbox.finish(other.id)

    lock = ErasureLock(migrated_engine, poll_s=0.05)
    entered = asyncio.Event()

    async def erase() -> None:
        async with lock.hold(["c-erase"]):
            entered.set()
            await asyncio.sleep(0.2)
            assert await inbox.claim(["web"]) == []  # still nothing for the erased conversation

    erasing = asyncio.create_task(erase())
    await asyncio.sleep(0.3)
    assert not entered.is_set()  # waiting for the turn in flight
    assert await inbox.claim(["web"], skip_conversations=()) == []  # its next message waits too
    await inbox.finish(in_flight.id)  # the turn ends (its replies stored)
    await asyncio.wait_for(entered.wait(), 5)
    await erasing
    with session_factory(migrated_engine)() as session:
        assert list(session.execute(select(Erasure)).scalars()) == []  # released
    [after] = await inbox.claim(["web"])  # the privacy command deleted it in real life; here it is free again
    assert after.external_id == "c-erase:m2"


async def test_a_turn_stuck_in_flight_stops_the_erasure_before_anything_is_erased(migrated_engine: Engine) -> None:
    inbox = Inbox(migrated_engine, "replica-1")
    assert await inbox.accept("web", "c-stuck:m1", "c-stuck", {"text": "hi"})
    await inbox.claim(["web"])
    with session_factory(migrated_engine).begin() as session:  # a lease far in the future
        for item in session.execute(select(InboxItem)).scalars():
            item.lease_until = utcnow() + dt.timedelta(hours=1)
    erased = False
    with pytest.raises(ErasureBlocked):
        async with ErasureLock(migrated_engine, wait_s=0.3, poll_s=0.05).hold(["c-stuck"]):
            erased = True
    assert not erased
    with session_factory(migrated_engine)() as session:
        assert list(session.execute(select(Erasure)).scalars()) == []
