"""A message stored already claimed runs at once, in order and within the worker's limits (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from bot.channels.inbox import Inbox, InboxEvent, InboxWorker
from bot.db.models import Erasure, utcnow


async def test_the_first_message_of_a_conversation_is_stored_leased(migrated_engine: Engine) -> None:
    inbox, other = Inbox(migrated_engine, "gw-a"), Inbox(migrated_engine, "gw-b")
    first, new = await inbox.accept_or_find("direct", "c-1:k1", "c-1", {"text": "hi"}, lease=True)
    assert new and first is not None and first.leased and first.attempts == 1
    assert await other.claim(["direct"]) == []  # another replica does not take it
    second, new = await inbox.accept_or_find("direct", "c-1:k2", "c-1", {"text": "and"}, lease=True)
    assert new and second is not None and not second.leased and second.attempts == 0  # waits behind the first
    again, new = await inbox.accept_or_find("direct", "c-1:k1", "c-1", {"text": "hi"}, lease=True)
    assert not new and again is not None and again.id == first.id  # a retry finds the stored event
    plain, new = await inbox.accept_or_find("direct", "c-2:k1", "c-2", {"text": "hi"})
    assert new and plain is not None and not plain.leased  # without lease: as accept() stores it


async def test_a_conversation_being_erased_is_not_leased(migrated_engine: Engine) -> None:
    with migrated_engine.begin() as connection:
        connection.execute(insert(Erasure).values(conversation_id="c-erase", started_at=utcnow()))
    event, new = await Inbox(migrated_engine, "gw-a").accept_or_find(
        "direct", "c-erase:k", "c-erase", {"text": "hi"}, lease=True
    )
    assert new and event is not None and not event.leased


async def test_run_now_runs_a_leased_event_and_respects_capacity_and_order(migrated_engine: Engine) -> None:
    inbox = Inbox(migrated_engine, "gw-a")
    release = asyncio.Event()
    ran: list[str] = []

    async def turn(event: InboxEvent) -> bool:
        ran.append(event.external_id)
        await release.wait()
        return False  # the worker closes the event

    worker = InboxWorker(inbox, {"direct": turn}, max_concurrent=1)
    first, _ = await inbox.accept_or_find("direct", "c-1:k1", "c-1", {}, lease=True)
    other, _ = await inbox.accept_or_find("direct", "c-2:k1", "c-2", {}, lease=True)
    assert first is not None and other is not None and first.leased and other.leased
    task = worker.run_now(first)
    assert task is not None
    assert worker.run_now(first) is None  # its conversation runs already
    assert worker.run_now(other) is None  # at capacity: left to the rounds
    unleased = InboxEvent(other.id, "direct", "c-2:k1", "c-2", {}, "pending", 0)
    assert worker.run_now(unleased) is None  # never an event this replica did not claim
    release.set()
    await task
    assert ran == ["c-1:k1"]
    done = await inbox.get(first.id)
    assert done is not None and done.state == "done"
    await worker.close()
