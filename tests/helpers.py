"""Small shared test helpers."""

from __future__ import annotations

import asyncio
import socket
import time

from aiohttp import web


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def queue_counts(app: web.Application) -> tuple[dict[str, int], dict[str, int]]:
    """A running gateway's (inbox, outbox) rows per state."""
    from bot.gateway.keys import INBOX, OUTBOX

    return await app[INBOX].counts(), await app[OUTBOX].counts()


async def queues_settled(app: web.Application, timeout: float = 30.0) -> tuple[dict[str, int], dict[str, int]]:
    """Wait until a gateway has nothing left to process or send; the final (inbox, outbox) counts."""
    deadline = time.monotonic() + timeout
    while True:
        inbox, outbox = await queue_counts(app)
        busy = {"pending", "stored", "sending"}
        if not busy & set(inbox) and not busy & set(outbox):
            return inbox, outbox
        if time.monotonic() > deadline:
            raise AssertionError(f"not settled: inbox={inbox} outbox={outbox}")
        await asyncio.sleep(0.05)
