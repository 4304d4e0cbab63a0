"""PostgreSQL away for 30 seconds: clear 503s meanwhile, nothing lost, and service resumes by itself (issue 14, point 11)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import create_engine, text
from sqlalchemy.engine.url import make_url
from sqlalchemy.pool import NullPool

from bot.db.migrate import upgrade
from bot.gateway.app import create_app
from bot.settings import Settings
from tests.fakes.rasa import FakeRasa
from tests.helpers import free_port

OUTAGE_S = 30.0


class CuttableProxy:
    """A TCP proxy to PostgreSQL that can be cut (connections refused, open ones reset) and restored."""

    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self._upstream_port = upstream_port
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database (dropped afterwards)."""
    name = f"bot_outage_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_admin_url).set(database=name)
    upgrade(url.render_as_string(hide_password=False))
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
async def outage_rig(
    postgres_url: str, fake_rasa: tuple[FakeRasa, Settings]
) -> AsyncIterator[tuple[TestClient, CuttableProxy]]:
    _, settings = fake_rasa
    proxy = CuttableProxy(make_url(postgres_url).port or 5432)
    await proxy.start()
    proxied = make_url(postgres_url).set(port=proxy.port).render_as_string(hide_password=False)
    client = TestClient(TestServer(create_app(settings.with_overrides(database_url=proxied)), port=0))
    await client.start_server()
    try:
        yield client, proxy
    finally:
        await client.close()
        await proxy.cut()


async def test_thirty_seconds_without_postgresql(
    outage_rig: tuple[TestClient, CuttableProxy], auth: dict[str, str]
) -> None:
    client, proxy = outage_rig

    async def say(text_: str, key: str) -> tuple[int, dict[str, str], dict]:
        response = await client.post(
            "/api/v1/messages",
            json={"conversation_id": "pg-outage", "text": text_},
            headers={**auth, "Idempotency-Key": key},
        )
        return response.status, dict(response.headers), await response.json()

    assert (await say("before", "k-before"))[0] == 200
    await proxy.cut()
    started, statuses = time.monotonic(), []
    while time.monotonic() - started < OUTAGE_S:
        status, headers, body = await say("during", f"k-during-{len(statuses)}")
        statuses.append(status)
        assert status == 503 and headers["Retry-After"] == "5", (status, body)
        ready = await client.get("/readyz")
        assert ready.status == 503
        ws = await client.ws_connect("/ws")
        await ws.send_json({"type": "hello", "conversation_id": None, "after": None})
        assert (await ws.receive_json(timeout=10))["code"] == "unavailable"
        await ws.close()
        await asyncio.sleep(2)
    assert len(statuses) >= 5
    await proxy.start()  # PostgreSQL is back
    status, _, body = await say("after", "k-after")
    assert status == 200 and body["replies"] == [{"text": "you said: after", "buttons": []}]
    listed = await (await client.get("/api/v1/conversations/pg-outage/messages", headers=auth)).json()
    assert [m["text"] for m in listed["messages"]] == ["before", "you said: before", "after", "you said: after"]
    assert (await client.get("/readyz")).status in (200, 503)  # rasa/action checks aside, the database is up
    assert (await (await client.get("/readyz")).json())["checks"]["database"] is True
