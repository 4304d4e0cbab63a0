"""A platform's send rate shared by replicas through the real Redis: slots never closer than the limit allows."""

from __future__ import annotations

import asyncio
import itertools

from bot.channels.pacing import LocalPacer, RedisPacer
from tests.shared_services import RedisForRun


async def test_two_replicas_together_get_slots_at_the_platforms_pace(redis_service: RedisForRun) -> None:
    import redis.asyncio as aioredis

    clients = [aioredis.Redis.from_url(redis_service.url) for _ in range(2)]
    key = f"{redis_service.prefix}:pace:telegram"
    try:
        pacers = [RedisPacer(client, key, per_second=30) for client in clients]
        taken = await asyncio.gather(*(pacers[n % 2].reserve() for n in range(60)))
    finally:
        for client in clients:
            await client.close()
    # 60 sends at 30 a second from two replicas: the slots are 1/30 s apart, so the last one
    # waits about two seconds, wherever its replica is; no two share a slot.
    delays = sorted(delay for delay, _ in taken)
    assert delays[0] < 0.05 and 1.85 < delays[-1] < 2.2, delays[-3:]
    slots = sorted(slot for _, slot in taken)
    assert {b - a for a, b in itertools.pairwise(slots)} == {1_000_000 // 30}  # evenly, none shared


async def test_without_redis_a_replica_keeps_its_own_pace() -> None:
    import redis.asyncio as aioredis

    from tests.helpers import free_port

    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    try:
        pacer = RedisPacer(client, "k", per_second=1000)
        await asyncio.wait_for(pacer.wait(), 5)  # falls back, does not hang or raise
    finally:
        await client.close()
    unlimited = RedisPacer(client, "k", per_second=None)
    await unlimited.wait()
    await LocalPacer(None).wait()
