"""Small shared test helpers."""

from __future__ import annotations

import asyncio
import fcntl
import functools
import ipaddress
import socket
import struct
import time

from aiohttp import web


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(size: int) -> int:
    """A port P such that P, P+1, ... P+size-1 are all free on 127.0.0.1 right now.

    A cluster's tier listens on its front port and its replicas on the next ones
    (``bot.cluster.ClusterPlan.replica_port``); a lone free port may have a busy neighbour.
    """
    for _ in range(100):
        first = free_port()
        if first + size <= 65535 and all(_bindable(first + i) for i in range(1, size)):
            return first
    raise RuntimeError(f"no {size} free ports in a row on 127.0.0.1")


@functools.cache
def interface_addresses() -> tuple[str, ...]:
    """This machine's own IPv4 addresses other than loopback (what another pod would connect to)."""
    siocgifaddr = 0x8915  # Linux ioctl: the IPv4 address of an interface
    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(sock.fileno(), siocgifaddr, struct.pack("256s", name[:15].encode()))
            except OSError:  # no IPv4 address on this interface
                continue
            address = socket.inet_ntoa(packed[20:24])
            if not ipaddress.ip_address(address).is_loopback:
                found.append(address)
    return tuple(found)


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
