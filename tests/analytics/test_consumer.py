"""The analytics consumer on the real RabbitMQ: customer turns in Rasa's events queue trigger one import, the queue drains."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from bot.analytics.consumer import EventsConsumer


async def _publish(url: str, queue: str, bodies: list[bytes]) -> None:
    import aio_pika

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        for body in bodies:
            await channel.default_exchange.publish(aio_pika.Message(body=body), routing_key=queue)


async def _left(url: str, queue: str) -> int:
    import aio_pika

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=True)
        count = declared.declaration_result.message_count
        await declared.delete(if_unused=False, if_empty=False)
        return int(count or 0)


async def _run_for(consumer: EventsConsumer, seconds: float) -> None:
    task = asyncio.create_task(consumer.run())
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_turns_trigger_an_import_and_every_message_is_acknowledged(rabbitmq_url: str) -> None:
    queue = f"events_{uuid.uuid4().hex[:8]}"
    events = [{"event": "action", "sender_id": "c1"}, {"event": "user", "sender_id": "c1", "text": "hi"}]
    await _publish(rabbitmq_url, queue, [json.dumps(e).encode() for e in events * 3] + [b"not json"])
    imports: list[int] = []
    consumer = EventsConsumer(rabbitmq_url, queue, lambda: imports.append(1) or 6, debounce_s=0.2)
    await _run_for(consumer, 2.0)
    assert consumer.messages == 7 and sum(imports) == 1 and consumer.imported == 6  # one import for the batch
    assert await _left(rabbitmq_url, queue) == 0


async def test_without_a_turn_nothing_is_imported_and_without_the_lease_nothing_is_read(rabbitmq_url: str) -> None:
    queue = f"events_{uuid.uuid4().hex[:8]}"
    await _publish(rabbitmq_url, queue, [json.dumps({"event": "bot", "sender_id": "c1"}).encode()])
    imports: list[int] = []
    idle = EventsConsumer(rabbitmq_url, queue, lambda: imports.append(1) or 0, holding=lambda: False, debounce_s=0.2)
    await _run_for(idle, 1.0)
    assert idle.messages == 0  # another replica holds the lease
    busy = EventsConsumer(rabbitmq_url, queue, lambda: imports.append(1) or 0, debounce_s=0.2)
    await _run_for(busy, 1.5)
    assert busy.messages == 1 and imports == []
    assert await _left(rabbitmq_url, queue) == 0


async def test_a_broker_that_does_not_answer_is_retried_not_fatal() -> None:
    from tests.helpers import free_port

    consumer = EventsConsumer(f"amqp://guest:guest@127.0.0.1:{free_port()}/", "q", lambda: 0, debounce_s=0.1)
    await _run_for(consumer, 1.5)  # keeps trying; cancelling stops it
    assert consumer.messages == 0
