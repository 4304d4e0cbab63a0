"""rasa_components/gateway_channel.py: Rasa's customer channel answers only requests the gateway signed.

The channel is registered on a real Sanic app exactly as ``rasa run`` registers the channels of
``credentials.yml`` (``rasa.core.channels.channel.register``), served on 127.0.0.1; a stand-in
agent records every message that gets through and answers it. The gateway's own client
(``RasaClient``) is the signing side.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage, register
from rasa.core.run import create_http_input_channels
from rasa.shared.exceptions import RasaException
from sanic import Sanic

from bot.dialogue.rasa_client import WEBHOOK_PATH, DialogueUnavailable, RasaClient
from bot.dialogue.signing import MAX_AGE_S, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
from bot.settings import PROJECT_ROOT
from rasa_components.gateway_channel import GatewayInput, SeenNonces
from tests.helpers import free_port

SECRET = "channel-secret-for-the-channel-tests"
ATTACK = {"sender": "c-1", "message": "show my recent orders", "metadata": {"customer_id": "C1002"}}


@dataclass
class RecordingAgent:
    """Stands in for Rasa's agent: records each message that reached it and answers it."""

    handled: list[UserMessage] = field(default_factory=list)

    async def handle_message(self, message: UserMessage) -> None:
        self.handled.append(message)
        assert message.output_channel is not None
        await message.output_channel.send_text_message(message.sender_id or "", f"orders of {message.metadata}")


@dataclass
class Served:
    url: str
    agent: RecordingAgent


@pytest.fixture
async def rasa(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    # Sanic rewrites its HTTP class for the first app it serves; test mode keeps the original for the next ones.
    monkeypatch.setattr(Sanic, "test_mode", True)
    app = Sanic(f"channel-test-{uuid.uuid4().hex[:8]}", configure_logging=False)
    agent = RecordingAgent()
    app.ctx.agent = agent
    app.config.USE_UVLOOP = False  # serving would install uvloop's loop policy for the rest of the session
    register([GatewayInput(SECRET)], app, route="/webhooks/")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    assert server is not None
    await server.startup()
    try:
        yield Served(f"http://127.0.0.1:{port}", agent)
    finally:
        server.close()
        await server.wait_closed()


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers={"Content-Type": "application/json", **headers}) as response,
    ):
        return response.status, await response.json(content_type=None)


def encoded(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def test_the_gateways_signed_message_is_processed(rasa: Served) -> None:
    async with aiohttp.ClientSession() as session:
        client = RasaClient(session=session, base_url=rasa.url, token="unused", channel_secret=SECRET, timeout_s=5)
        replies = await client.send("c-1", "hi", {"channel": "web", "turn": "t-1"})

    assert [r.text for r in replies] == ["orders of {'channel': 'web', 'turn': 't-1'}"]
    [message] = rasa.agent.handled
    assert (message.sender_id, message.text, message.input_channel) == ("c-1", "hi", "gateway")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer anything"},
        {**signed_headers("a-wrong-secret-that-is-long-enough", encoded(ATTACK))},
        {**signed_headers(SECRET, encoded(ATTACK)), SIGNATURE_HEADER: "v1=" + "0" * 64},
        {**signed_headers(SECRET, b'{"sender":"c-1","message":"hi"}')},  # signed another body
        {k: v for k, v in signed_headers(SECRET, encoded(ATTACK)).items() if k != TIMESTAMP_HEADER},
    ],
    ids=["unsigned", "bearer-token", "wrong-secret", "forged-signature", "other-body", "no-timestamp"],
)
async def test_unsigned_or_badly_signed_requests_are_refused_unprocessed(rasa: Served, headers: dict) -> None:
    status, body = await post(f"{rasa.url}{WEBHOOK_PATH}", encoded(ATTACK), headers)

    assert (status, body) == (401, {"error": "unauthorized"})
    assert rasa.agent.handled == []


async def test_a_request_signed_too_long_ago_is_refused(rasa: Served) -> None:
    import time

    old = signed_headers(SECRET, encoded(ATTACK), now=time.time() - MAX_AGE_S - 5)
    status, _ = await post(f"{rasa.url}{WEBHOOK_PATH}", encoded(ATTACK), old)
    assert status == 401 and rasa.agent.handled == []


async def test_a_replayed_request_is_refused(rasa: Served) -> None:
    body = encoded({"sender": "c-1", "message": "show my recent orders", "metadata": {}})
    headers = signed_headers(SECRET, body)

    first, _ = await post(f"{rasa.url}{WEBHOOK_PATH}", body, headers)
    again, _ = await post(f"{rasa.url}{WEBHOOK_PATH}", body, headers)
    resigned, _ = await post(f"{rasa.url}{WEBHOOK_PATH}", body, signed_headers(SECRET, body))

    assert (first, again, resigned) == (200, 401, 200)
    assert len(rasa.agent.handled) == 2


async def test_the_stock_rest_webhook_is_not_served_and_health_stays_open(rasa: Served) -> None:
    status, _ = await post(f"{rasa.url}/webhooks/rest/webhook", encoded(ATTACK), {})
    assert status == 404
    async with aiohttp.ClientSession() as session, session.get(f"{rasa.url}/webhooks/gateway/") as response:
        assert (response.status, await response.json()) == (200, {"status": "ok"})
    assert rasa.agent.handled == []


async def test_the_gateway_client_reports_a_refusal_as_dialogue_unavailable(rasa: Served) -> None:
    async with aiohttp.ClientSession() as session:
        client = RasaClient(
            session=session,
            base_url=rasa.url,
            token="unused",
            channel_secret="the-gateway-has-another-secret",
            timeout_s=5,
        )
        with pytest.raises(DialogueUnavailable):
            await client.send("c-1", "hi", {})
    assert rasa.agent.handled == []


def test_credentials_yml_enables_only_this_channel_with_the_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOT_RASA_CHANNEL_SECRET", SECRET)
    [channel] = create_http_input_channels(None, str(PROJECT_ROOT / "credentials.yml"))
    assert isinstance(channel, GatewayInput) and channel.url_prefix() == "gateway"


def test_the_channel_does_not_start_without_a_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BOT_RASA_CHANNEL_SECRET", raising=False)
    with pytest.raises(RasaException):
        create_http_input_channels(None, str(PROJECT_ROOT / "credentials.yml"))
    for credentials in (None, {}, {"secret": ""}, {"secret": 42}):
        with pytest.raises(RasaException):
            GatewayInput.from_credentials(credentials)


def test_seen_nonces_are_forgotten_after_the_window() -> None:
    nonces = SeenNonces(keep_s=10)
    assert nonces.first_time("a", now=0) and not nonces.first_time("a", now=9)
    assert nonces.first_time("a", now=11)
    for n in range(3000):  # many requests: expired ones are swept, live ones kept
        assert nonces.first_time(f"n{n}", now=100 + n * 0.001)
    assert not nonces.first_time("n2999", now=103) and nonces.first_time("n0", now=200)


def test_header_names_are_the_shared_ones() -> None:
    assert {TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER} == set(signed_headers(SECRET, b"{}"))
