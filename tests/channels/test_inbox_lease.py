"""A turn longer than the inbox lease keeps its event: the lease is renewed while it runs (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Engine

from bot.channels.inbox import Inbox, InboxEvent, InboxWorker

LEASE_S = 0.6


async def test_a_long_turn_is_not_taken_by_another_replica(migrated_engine: Engine) -> None:
    mine, other = Inbox(migrated_engine, "gw-a", lease_s=LEASE_S), Inbox(migrated_engine, "gw-b", lease_s=LEASE_S)
    processed: list[int] = []
    taken_by_other: list[InboxEvent] = []

    async def slow_turn(event: InboxEvent) -> None:
        for _ in range(8):  # 2.4 s: four leases long
            await asyncio.sleep(0.3)
            taken_by_other.extend(await other.claim(["web"]))
        processed.append(event.id)

    assert await mine.accept("web", "m-1", "conversation-1", {"text": "hi"})
    worker = InboxWorker(mine, {"web": slow_turn}, poll_s=0.05)
    worker.start()
    try:
        for _ in range(100):
            # Done once the worker recorded it, not merely when the handler returned (closing the
            # worker in between would leave the event pending, to be retried).
            if processed and (done := await mine.get(processed[0])) is not None and done.state == "done":
                break
            await asyncio.sleep(0.1)
    finally:
        await worker.close()
    assert len(processed) == 1 and taken_by_other == []
    event = await mine.get(processed[0])
    assert event is not None and event.state == "done"
    assert not await mine.renew(processed[0])  # done: nothing to hold


async def test_a_lease_another_replica_took_over_is_not_renewed(migrated_engine: Engine) -> None:
    mine, other = Inbox(migrated_engine, "gw-a", lease_s=0.01), Inbox(migrated_engine, "gw-b", lease_s=60)
    assert await mine.accept("web", "m-1", "conversation-1", {"text": "hi"})
    [event] = await mine.claim(["web"])
    await asyncio.sleep(0.05)  # gw-a stalled past its lease
    assert [e.id for e in await other.claim(["web"])] == [event.id]
    assert not await mine.renew(event.id)
    assert await other.renew(event.id)
