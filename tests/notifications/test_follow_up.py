"""An agent's answer mailed to a web customer who left: the widget's follow_up frame, the consent, once per handoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import Engine

from bot.channels.web_protocol import FollowUp, FrameError, parse_frame
from bot.db.engine import create_db_engine, session_factory
from bot.db.migrate import upgrade
from bot.db.models import Agent, Conversation
from bot.gateway.app import create_app
from bot.gateway.keys import HUB
from bot.handoff.agents import AgentCredentials
from bot.handoff.requests import HandoffRequests
from bot.notifications.follow_up import FollowUps
from bot.settings import Settings
from tests.fakes.rasa import FakeRasa
from tests.mail import MailSink, smtp_server

LENA = {"Authorization": "Bearer token-of-AG-01"}


def test_follow_up_frames() -> None:
    assert parse_frame('{"type": "follow_up", "email": " ana@example.org ", "consent": true}', 4000) == FollowUp(
        "ana@example.org"
    )
    assert parse_frame('{"type": "follow_up", "consent": false}', 4000) == FollowUp(None)
    for bad in (
        '{"type": "follow_up", "email": "ana@example.org"}',  # no consent: nothing is kept
        '{"type": "follow_up", "email": "ana@example.org", "consent": "yes"}',
        '{"type": "follow_up", "consent": true}',
        '{"type": "follow_up", "email": 7, "consent": true}',
        '{"type": "follow_up", "email": "' + "a" * 321 + '", "consent": true}',
    ):
        with pytest.raises(FrameError):
            parse_frame(bad, 4000)


async def test_addresses_are_kept_for_web_chats_only(migrated_engine: Engine) -> None:
    with session_factory(migrated_engine).begin() as session:
        session.add(Conversation(id="web-1", channel="web"))
        session.add(Conversation(id="telegram-1", channel="telegram"))
    follow_ups = FollowUps(migrated_engine)
    assert await follow_ups.remember("web-1", "ana@example.org")
    assert await follow_ups.remember("web-1", "ana.new@example.org")  # changed: the newest counts
    assert not await follow_ups.remember("web-1", "not an address")
    assert not await follow_ups.remember("telegram-1", "ana@example.org")
    assert not await follow_ups.remember("web-unknown", "ana@example.org")
    assert follow_ups.claim("web-1", 7) == "ana.new@example.org"
    assert follow_ups.claim("web-1", 7) is None  # once per handoff
    follow_ups.release("web-1", 7)  # the mail failed: the next answer tries again
    assert follow_ups.claim("web-1", 7) == "ana.new@example.org"
    assert follow_ups.claim("web-1", 8) == "ana.new@example.org"  # a later handoff
    await follow_ups.forget("web-1")
    assert follow_ups.claim("web-1", 9) is None
    assert follow_ups.claim("telegram-1", 9) is None


@pytest.fixture
def mail() -> Iterator[MailSink]:
    with smtp_server() as sink:
        yield sink


@pytest.fixture
async def web(fake_rasa: tuple[FakeRasa, Settings], mail: MailSink) -> AsyncIterator[tuple[TestClient, Engine]]:
    """The gateway (mail to the local SMTP sink) with an agent who has a token."""
    _, settings = fake_rasa
    settings = settings.with_overrides(smtp={"host": "127.0.0.1", "port": mail.port})
    upgrade(settings.database_url)
    engine = create_db_engine(settings.database_url)
    with session_factory(engine).begin() as session:
        session.add(Agent(id="AG-01", name="Lena", email="lena@example.com"))
    assert AgentCredentials(engine).register("AG-01", "token-of-AG-01")
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        yield client, engine
    finally:
        await client.close()
        engine.dispose()


async def _frame(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        frame = await ws.receive_json(timeout=10)
        if frame.get("type") == kind:
            return dict(frame)


async def _answer(client: TestClient, handoff: int, text: str) -> None:
    resp = await client.post(f"/api/v1/handoffs/{handoff}/messages", json={"text": text}, headers=LENA)
    assert resp.status in (200, 201), await resp.text()


async def _mails(mail: MailSink, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while len(mail.messages) < count:
        assert time.monotonic() < deadline, f"expected {count} mail(s), got {len(mail.messages)}"
        await asyncio.sleep(0.05)


async def test_an_answer_after_the_customer_left_is_mailed_once(web: tuple[TestClient, Engine], mail: MailSink) -> None:
    client, engine = web
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "conversation_id": None})
    conversation = (await _frame(ws, "welcome"))["conversation_id"]
    await ws.send_json({"type": "follow_up", "email": "nope", "consent": True})
    assert (await _frame(ws, "follow_up"))["saved"] is False
    await ws.send_json({"type": "follow_up", "email": "ana@example.org", "consent": True})
    assert (await _frame(ws, "follow_up"))["saved"] is True

    ref, _ = HandoffRequests(engine).request(conversation, "customer_request", {"summary": "wants a person"}, "web")
    resp = await client.post(f"/api/v1/handoffs/{ref.id}/claim", json={}, headers=LENA)
    assert resp.status == 200, await resp.text()
    await _answer(client, ref.id, "Still there? I'm looking into it.")
    assert (await _frame(ws, "message"))["text"] == "Still there? I'm looking into it."  # the tab got it
    await asyncio.sleep(0.5)
    assert mail.messages == []  # the customer is here: no mail

    await ws.close()  # the customer leaves
    for _ in range(100):
        if client.server.app[HUB].subscriber_count(conversation) == 0:
            break
        await asyncio.sleep(0.02)
    answer = "Good morning! Your refund was sent today; it shows in 3-5 days."
    await _answer(client, ref.id, answer)
    await _mails(mail, 1)
    assert mail.recipients == [["ana@example.org"]]
    body = mail.messages[0].get_payload(decode=True).decode("utf-8")
    assert answer in body and mail.messages[0]["Subject"] == "Nimbus Support answered your chat question"

    await _answer(client, ref.id, "One more thing: keep the receipt.")
    await asyncio.sleep(0.5)
    assert len(mail.messages) == 1  # one mail per handoff; the rest is in the chat


async def test_no_mail_without_consent_or_after_it_was_withdrawn(
    web: tuple[TestClient, Engine], mail: MailSink
) -> None:
    client, engine = web
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "conversation_id": None})
    conversation = (await _frame(ws, "welcome"))["conversation_id"]
    await ws.send_json({"type": "follow_up", "email": "ana@example.org", "consent": True})
    assert (await _frame(ws, "follow_up"))["saved"] is True
    await ws.send_json({"type": "follow_up", "consent": False})
    assert (await _frame(ws, "follow_up"))["saved"] is False
    await ws.close()
    ref, _ = HandoffRequests(engine).request(conversation, "customer_request", {}, "web")
    assert (await client.post(f"/api/v1/handoffs/{ref.id}/claim", json={}, headers=LENA)).status == 200
    await _answer(client, ref.id, "Hello?")
    await asyncio.sleep(0.5)
    assert mail.messages == []
