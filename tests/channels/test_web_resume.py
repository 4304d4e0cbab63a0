"""A web chat is resumed only by the tab that started it or by its verified customer; links go stale (issue 14, point 3)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.conversations.identity import ANONYMOUS, Identity, IdentityResolver
from bot.db.engine import create_db_engine, session_factory
from bot.db.migrate import upgrade
from bot.db.models import ChannelIdentity, utcnow
from bot.db.seed import DemoData, seed_database
from bot.gateway.app import create_app
from bot.identity.tokens import mint_customer_token
from bot.settings import Settings
from tests.fakes.rasa import FakeRasa

SECRET = "identity-secret-for-tests"


@pytest.fixture
async def seeded_gateway(fake_rasa: tuple[FakeRasa, Settings], demo_data: DemoData) -> AsyncIterator[TestClient]:
    """The gateway on a database holding the demo customers."""
    _, settings = fake_rasa
    upgrade(settings.database_url)
    engine = create_db_engine(settings.database_url)
    seed_database(engine, demo_data)
    engine.dispose()
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def _hello(client: TestClient, **fields: Any) -> tuple[Any, dict[str, Any]]:
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "conversation_id": None, "after": 0, **fields})
    welcome = await ws.receive_json(timeout=5)
    assert welcome["type"] == "welcome"
    return ws, welcome


async def _chat(ws: Any, text: str, client_id: str) -> None:
    await ws.send_json({"type": "message", "text": text, "client_id": client_id})
    for _ in range(10):
        frame = await ws.receive_json(timeout=5)
        if frame.get("sender") == "bot":
            return
    raise AssertionError("no reply")


async def test_only_the_chats_own_secret_or_customer_resumes_it(
    seeded_gateway: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    owner_token = mint_customer_token("C1001", SECRET)
    ws, welcome = await _hello(seeded_gateway, customer_token=owner_token)
    conversation_id, secret = welcome["conversation_id"], welcome.get("resume_secret")
    await _chat(ws, "my order 100161 please", "m1")
    await ws.close()

    # Knowing the id is not enough: a stranger gets a new, empty chat and none of the history.
    stranger, stranger_welcome = await _hello(seeded_gateway, conversation_id=conversation_id)
    assert stranger_welcome["conversation_id"] != conversation_id
    await stranger.send_json({"type": "ping"})
    assert await stranger.receive_json(timeout=5) == {"type": "pong"}  # nothing was replayed before it
    await stranger.close()
    other_customer = mint_customer_token("C1002", SECRET)
    ws, refused = await _hello(seeded_gateway, conversation_id=conversation_id, customer_token=other_customer)
    assert refused["conversation_id"] != conversation_id
    await ws.close()

    # The tab's own secret resumes it, and so does the verified owner on another device.
    for fields in ({"resume_secret": secret}, {"customer_token": owner_token}):
        ws, resumed = await _hello(seeded_gateway, conversation_id=conversation_id, **fields)
        assert resumed["conversation_id"] == conversation_id and "resume_secret" not in resumed
        replayed = [await ws.receive_json(timeout=5) for _ in range(2)]
        assert [f["text"] for f in replayed] == ["my order 100161 please", "you said: my order 100161 please"]
        await ws.close()

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert conversation_id not in logged and secret not in logged and owner_token not in logged


async def test_a_link_idle_too_long_no_longer_verifies(seeded_gateway: TestClient) -> None:
    from bot.gateway.keys import ENGINE

    engine = seeded_gateway.server.app[ENGINE]
    now = utcnow()
    with session_factory(engine).begin() as session:
        for user, last in (("fresh-user", now - dt.timedelta(days=3)), ("stale-user", now - dt.timedelta(days=45))):
            session.add(
                ChannelIdentity(
                    channel="telegram", external_id=user, customer_id="C1001", linked_at=last, created_at=last
                )
            )
    resolver = IdentityResolver(engine, SECRET, link_idle=dt.timedelta(days=30))
    assert await resolver.resolve("telegram", "fresh-user", None) == Identity("C1001", "link")
    assert await resolver.resolve("telegram", "stale-user", None) == ANONYMOUS
    with session_factory(engine)() as session:
        rows = {r.external_id: r for r in session.execute(select(ChannelIdentity)).scalars()}
    assert rows["stale-user"].customer_id is None  # unlinked: the customer verifies again by code
    assert rows["fresh-user"].last_seen_at is not None and rows["fresh-user"].last_seen_at >= now
