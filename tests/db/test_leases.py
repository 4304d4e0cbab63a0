"""Replica coordination in the shared database: leases and events seen once (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Engine

from bot.db.leases import ReplicaLeases, SeenEvents
from bot.handoff.events import HandoffEvents
from bot.handoff.hours import load_hours
from bot.handoff.timers import HandoffTimers, TimerResult
from bot.settings import PROJECT_ROOT


def test_one_replica_holds_a_lease_until_it_lapses_or_is_released(migrated_engine: Engine) -> None:
    a, b = ReplicaLeases(migrated_engine, "gw-a"), ReplicaLeases(migrated_engine, "gw-b")
    assert a.hold("timers", ttl_s=0.5) and not b.hold("timers", ttl_s=0.5)
    assert a.hold("timers", ttl_s=0.5)  # renewed by its holder
    assert b.hold("polling", ttl_s=5) and not a.hold("polling", ttl_s=5)  # leases are independent
    time.sleep(0.7)  # gw-a stopped renewing (died)
    assert b.hold("timers", ttl_s=5) and not a.hold("timers", ttl_s=5)
    b.release("timers")
    assert a.hold("timers", ttl_s=5)
    a.release("polling")  # not its lease: nothing happens
    assert not a.hold("polling", ttl_s=5)


def test_replicas_taking_a_free_lease_at_once_get_it_once(migrated_engine: Engine) -> None:
    barrier = threading.Barrier(6)

    def take(n: int) -> bool:
        leases = ReplicaLeases(migrated_engine, f"gw-{n}")
        barrier.wait()
        return leases.hold("timers", ttl_s=30)

    with ThreadPoolExecutor(6) as pool:
        assert sorted(pool.map(take, range(6))) == [False] * 5 + [True]


def test_an_event_is_handled_once_whichever_replica_it_reaches(migrated_engine: Engine) -> None:
    a, b = SeenEvents(migrated_engine, "slack_desk"), SeenEvents(migrated_engine, "slack_desk")
    assert a.first_time("Ev1") and not b.first_time("Ev1") and not a.first_time("Ev1")
    assert SeenEvents(migrated_engine, "other").first_time("Ev1")  # per source


class CountingTimers(HandoffTimers):
    checks = 0

    async def check(self, now: Any = None) -> TimerResult:
        self.checks += 1
        return TimerResult()


async def test_only_the_lease_holder_runs_the_handoff_timers(migrated_engine: Engine) -> None:
    hours = load_hours(PROJECT_ROOT / "data" / "business_hours.yml")
    timers = [
        CountingTimers(
            migrated_engine,
            hours,
            conversations=None,  # type: ignore[arg-type]
            events=HandoffEvents(),
            closing_text="",
            interval_s=0.05,
            leases=ReplicaLeases(migrated_engine, f"gw-{n}"),
        )
        for n in range(2)
    ]
    async with timers[0].running(), timers[1].running():
        await asyncio.sleep(0.5)
    counts = sorted(t.checks for t in timers)
    assert counts[0] == 0 and counts[1] >= 3, counts
