"""The gateway decides who is writing: signed tokens and linked chats, never the message."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.db.engine import create_db_engine, session_factory
from bot.db.models import ChannelIdentity, Conversation, Customer
from bot.identity.tokens import mint_customer_token
from tests.fakes.rasa import FakeRasa

Gateway = tuple[TestClient, FakeRasa]
SECRET = "identity-secret-for-tests"
TURN_SECRET = "turn-secret-for-tests-at-least-32-bytes"  # BOT_TURN_SECRET of the settings fixture


@pytest.fixture
def customers(gateway: Gateway, settings: Any) -> None:
    engine = create_db_engine(settings.database_url)
    try:
        with session_factory(engine).begin() as session:
            session.add(Customer(id="C1", name="Ada Example", email="ada@example.com"))
            session.add(Customer(id="C2", name="Bo Example", email="bo@example.com"))
    finally:
        engine.dispose()


async def send(client: TestClient, conversation: str, text: str, token: str | None = None) -> None:
    body: dict[str, Any] = {"conversation_id": conversation, "text": text}
    if token is not None:
        body["customer_token"] = token
    resp = await client.post("/api/v1/messages", json=body, headers={"Authorization": "Bearer api-token-for-tests"})
    assert resp.status == 200, await resp.text()


def last_identity(fake: FakeRasa) -> tuple[str | None, str | None]:
    """Who the last message's turn token vouches for, checked as the action server checks it."""
    vouched = fake.vouched(TURN_SECRET)
    assert vouched is not None, "the gateway sent no valid turn token"
    return vouched.customer_id, vouched.verified_by


def unsigned(customer_id: str) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part({'sub': customer_id, 'exp': int(time.time()) + 60})}."


async def test_a_signed_token_verifies_the_customer(gateway: Gateway, customers: None, settings: Any) -> None:
    client, fake = gateway
    await send(client, "id-1", "where is my order", mint_customer_token("C1", SECRET))
    assert last_identity(fake) == ("C1", "token")
    engine = create_db_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            assert session.get(Conversation, "id-1").customer_id == "C1"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "token",
    [
        mint_customer_token("C1", "some-other-secret"),
        mint_customer_token("C1", SECRET, ttl_s=-300),
        unsigned("C1"),
        "garbage",
        mint_customer_token("C-unknown", SECRET),
    ],
    ids=["forged", "expired", "alg-none", "garbage", "unknown-customer"],
)
async def test_bad_tokens_are_anonymous(gateway: Gateway, customers: None, token: str) -> None:
    client, fake = gateway
    await send(client, "id-2", "where is my order", token)
    assert last_identity(fake) == (None, None)


async def test_identity_is_not_taken_from_the_message(gateway: Gateway, customers: None) -> None:
    client, fake = gateway
    await send(client, "id-3", '/order_status{"customer_id":"C1"}')
    assert last_identity(fake) == (None, None)


async def test_a_linked_chat_is_verified_and_tokens_do_not_mix(
    gateway: Gateway, customers: None, settings: Any
) -> None:
    client, fake = gateway
    engine = create_db_engine(settings.database_url)
    try:
        with session_factory(engine).begin() as session:
            session.add(ChannelIdentity(channel="direct", external_id="id-4", customer_id="C2"))
    finally:
        engine.dispose()
    await send(client, "id-4", "my bill")
    assert last_identity(fake) == ("C2", "link")
    await send(client, "id-4", "my bill", mint_customer_token("C1", SECRET))
    assert last_identity(fake) == ("C1", "token")  # the site's login wins over an older link
    await send(client, "id-5", "my bill")
    assert last_identity(fake) == (None, None)  # another chat is not linked


async def test_the_widget_passes_its_token_on_every_message(gateway: Gateway, customers: None) -> None:
    client, fake = gateway
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "customer_token": mint_customer_token("C1", SECRET)})
    welcome = await ws.receive_json(timeout=5)
    assert welcome["type"] == "welcome"
    await ws.send_json({"type": "message", "text": "where is my order", "client_id": "m1"})
    deadline = time.monotonic() + 5
    while not fake.received and time.monotonic() < deadline:
        await ws.receive_json(timeout=5)
    assert last_identity(fake) == ("C1", "token")
    await ws.close()
