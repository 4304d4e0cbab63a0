"""Fixtures for the services a cluster shares: Redis and RabbitMQ on this machine's loopback.

Registered by ``tests/conftest.py``. Each test run gets its own: a Redis key prefix whose keys
are deleted at the end, and a RabbitMQ virtual host made with ``rabbitmqctl`` and deleted at
the end (where ``rabbitmqctl`` may not manage the broker, the default host with the run's own
queue names). Unreachable services skip, or fail under ``BOT_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.services import require

REDIS = ("127.0.0.1", int(os.environ.get("BOT_TEST_REDIS_PORT", "6379")))
RABBITMQ = ("127.0.0.1", int(os.environ.get("BOT_TEST_RABBITMQ_PORT", "5672")))


def _listening(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class RedisForRun:
    """Redis for this test run: its URL and the prefix all of the run's keys start with."""

    url: str
    prefix: str


@pytest.fixture(scope="session")
def redis_service() -> Iterator[RedisForRun]:
    require(_listening(REDIS), f"Redis not reachable at {REDIS[0]}:{REDIS[1]}")
    import redis

    run = RedisForRun(url=f"redis://{REDIS[0]}:{REDIS[1]}/0", prefix=f"t{uuid.uuid4().hex[:10]}")
    yield run
    client = redis.Redis.from_url(run.url)
    try:
        for key in client.scan_iter(match=f"{run.prefix}*"):
            client.delete(key)
    finally:
        client.close()


def rabbitmqctl(*args: str) -> bool:
    """Run ``rabbitmqctl -q <args>``; whether it succeeded (False where the tool is missing or may not manage the broker)."""
    tool = shutil.which("rabbitmqctl") or ("/usr/sbin/rabbitmqctl" if os.path.exists("/usr/sbin/rabbitmqctl") else None)
    if tool is None:
        return False
    try:
        return subprocess.run([tool, "-q", *args], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def rabbitmq_url() -> Iterator[str]:
    """An AMQP URL for this run (its own virtual host where rabbitmqctl can make one)."""
    require(_listening(RABBITMQ), f"RabbitMQ not reachable at {RABBITMQ[0]}:{RABBITMQ[1]}")
    vhost = f"bot-test-{uuid.uuid4().hex[:10]}"
    own = rabbitmqctl("add_vhost", vhost) and rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    try:
        yield f"amqp://guest:guest@{RABBITMQ[0]}:{RABBITMQ[1]}/{vhost if own else ''}"
    finally:
        if own:
            rabbitmqctl("delete_vhost", vhost)
