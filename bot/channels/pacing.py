"""A platform's overall send rate, kept by one replica or shared by all of them.

Telegram accepts about 30 messages a second from a bot, whichever replica sends them. The
outbox worker waits for a slot before each send. :class:`LocalPacer` hands out slots in this
process. :class:`RedisPacer` hands them out from one Redis key per platform, so that N gateway
replicas together keep the platform's limit. A Lua script reads Redis's own clock and moves
the next free slot on, in one atomic step. When Redis does not answer, the replica falls back
to its own pacer at the full rate, so sending carries on. For that short time the platform may
see more than its limit; its 429 replies are honoured.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

_LOGGER = logging.getLogger(__name__)

# KEYS[1]: the platform's key; ARGV[1]: the interval between slots in microseconds.
# Returns the slot's delay from now and the slot itself (Redis time), in microseconds.
_RESERVE = """
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local next_us = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now_us, next_us)
redis.call('SET', KEYS[1], string.format('%.0f', slot + tonumber(ARGV[1])), 'PX', 60000)
return {slot - now_us, slot}
"""


class Pacer(Protocol):
    """Waits for the next free send slot of one platform."""

    async def wait(self) -> None:
        """Return when this send may go."""


class LocalPacer:
    """At most ``per_second`` sends a second from this process (a leaky bucket of slots)."""

    def __init__(self, per_second: float | None) -> None:
        """No limit when ``per_second`` is None or 0."""
        self._interval = 1.0 / per_second if per_second else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        """Take the next slot and sleep until it comes."""
        if not self._interval:
            return
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


class RedisPacer:
    """At most ``per_second`` sends a second from every replica together (slots in Redis)."""

    def __init__(self, client: Any, key: str, per_second: float | None) -> None:
        """Hand out slots from ``key`` of ``client`` (a ``redis.asyncio.Redis``)."""
        self._client, self._key = client, key
        self._interval_us = int(1_000_000 / per_second) if per_second else 0
        self._fallback = LocalPacer(per_second)
        self._script = client.register_script(_RESERVE) if self._interval_us else None

    async def reserve(self) -> tuple[float, int]:
        """Take the next slot: the seconds to wait for it, and the slot in Redis's microseconds.

        Raises:
            redis.exceptions.RedisError: Redis does not answer.
        """
        assert self._script is not None
        delay_us, slot_us = await self._script(keys=[self._key], args=[self._interval_us])
        return max(0, int(delay_us)) / 1_000_000, int(slot_us)

    async def wait(self) -> None:
        """Take the next shared slot and sleep until it comes (the local pacer while Redis is away)."""
        if self._script is None:
            return
        try:
            delay, _slot = await asyncio.wait_for(self.reserve(), 2)
        except Exception as exc:
            _LOGGER.warning("pacing.redis_unavailable key=%s error=%s", self._key, type(exc).__name__)
            await self._fallback.wait()
            return
        if delay > 0:
            await asyncio.sleep(delay)
