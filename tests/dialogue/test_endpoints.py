"""The Rasa server's endpoints file for a cluster replica, read by Rasa itself, on the real Redis and RabbitMQ."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from bot.dialogue.endpoints import rasa_endpoints, rasa_environment
from bot.settings import PROJECT_ROOT, load_settings
from bot.settings.sections import SharedServices
from tests.shared_services import RedisForRun

TEMPLATE = (PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8")


def test_one_host_keeps_the_projects_file_as_it_is() -> None:
    assert rasa_endpoints(TEMPLATE, SharedServices()) == TEMPLATE


def test_a_replica_gets_a_redis_lock_store_and_a_pika_broker_without_passwords_in_the_file() -> None:
    services = SharedServices(
        redis_url="rediss://:r%40dis-pw@redis.internal:6380/3",
        rabbitmq_url="amqp://bot:amqp-pw@rabbit.internal:5673/support",
        events_queue="events_a",
        redis_prefix="acme",
    )
    text = rasa_endpoints(TEMPLATE, services)
    assert "r@dis-pw" not in text and "r%40dis-pw" not in text and "amqp-pw" not in text
    parsed = yaml.safe_load(text)
    assert parsed["tracker_store"] == yaml.safe_load(TEMPLATE)["tracker_store"]  # the project's file stays
    assert parsed["lock_store"] == {
        "type": "redis",
        "url": "redis.internal",
        "port": 6380,
        "db": 3,
        "key_prefix": "acmerasa",
        "use_ssl": True,
        "password": "${BOT_REDIS_PASSWORD}",
    }
    broker = parsed["event_broker"]
    assert broker["url"] == "amqp://rabbit.internal:5673/support" and broker["username"] == "bot"
    assert broker["password"] == "${BOT_RABBITMQ_PASSWORD}" and broker["queues"] == ["events_a"]
    settings = load_settings({"BOT_VAR_DIR": "/tmp/unused", "BOT_LOCK_LIFETIME": "75"})
    env = rasa_environment(settings.dialogue, services)
    assert env["BOT_REDIS_PASSWORD"] == "r@dis-pw" and env["BOT_RABBITMQ_PASSWORD"] == "amqp-pw"
    assert env["TICKET_LOCK_LIFETIME"] == "75" and env["BOT_ACTION_URL"] == settings.dialogue.action_url


@pytest.fixture
def replica_endpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_service: RedisForRun, rabbitmq_url: str
) -> Path:
    """The file a replica's Rasa server reads, with its environment set as the supervisor sets it."""
    services = SharedServices(
        redis_url=redis_service.url,
        rabbitmq_url=rabbitmq_url,
        events_queue=f"{redis_service.prefix}_events",
        redis_prefix=redis_service.prefix,
    )
    settings = load_settings({"BOT_VAR_DIR": str(tmp_path)})
    for name, value in {
        **settings.child_environment(),
        **rasa_environment(settings.dialogue, services),
    }.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "endpoints.yml"
    path.write_text(rasa_endpoints(TEMPLATE, services), encoding="utf-8")
    return path


async def test_rasa_locks_conversations_in_redis_and_publishes_events_to_rabbitmq(
    replica_endpoints: Path, redis_service: RedisForRun, rabbitmq_url: str
) -> None:
    import aio_pika
    import redis
    from rasa.core.brokers.broker import EventBroker
    from rasa.core.lock_store import LockStore, RedisLockStore
    from rasa.core.utils import AvailableEndpoints

    endpoints = AvailableEndpoints.read_endpoints(str(replica_endpoints))
    lock_store = LockStore.create(endpoints.lock_store)
    assert isinstance(lock_store, RedisLockStore)
    client = redis.Redis.from_url(redis_service.url)
    try:
        async with lock_store.lock("conversation-1"):
            keys = [k.decode() for k in client.scan_iter(match=f"{redis_service.prefix}rasa:*")]
            assert keys == [f"{redis_service.prefix}rasa:lock:conversation-1"]  # held where every replica sees it
        assert not list(client.scan_iter(match=f"{redis_service.prefix}rasa:*"))  # and released
    finally:
        client.close()

    broker = await EventBroker.create(endpoints.event_broker)
    assert broker is not None and type(broker).__name__ == "PikaEventBroker"
    queue_name = f"{redis_service.prefix}_events"
    connection = await aio_pika.connect_robust(rabbitmq_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True)
        for _ in range(50):  # the broker connects in the background
            if broker.is_ready():
                break
            await asyncio.sleep(0.2)
        broker.publish({"event": "user", "sender_id": "conversation-1", "text": "hi"})
        message = None
        for _ in range(50):
            message = await queue.get(no_ack=True, fail=False)
            if message is not None:
                break
            await asyncio.sleep(0.2)
        assert message is not None, "nothing reached the events queue"
        assert json.loads(message.body)["sender_id"] == "conversation-1"
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await broker.close()
        await connection.close()
