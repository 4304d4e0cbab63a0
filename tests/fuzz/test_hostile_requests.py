"""Requests Schemathesis does not generate, against the live gateway: each must get a 4xx, never a 500.

Schemathesis writes its bodies as UTF-8 JSON of bounded depth, so lone surrogates (``"\\ud800"``
is valid JSON), deeply nested bodies, chunked bodies and odd digits never reach the gateway
from it. These cases do. The expected answer is the correct one (docs/api.md,
docs/websocket-protocol.md); a case that fails today is an xfail naming the finding, and turns
into a failure (XPASS) once the fix lands.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from tests.fuzz.conftest import LiveGateway

DEEP = 10_000


@dataclass(frozen=True)
class Hostile:
    """One raw request and the status (and error code) it must get."""

    method: str
    path: str
    token: str  # "api" or "agent"
    body: bytes | None
    status: int
    code: str
    chunked: bool = False


def _json(text: str) -> bytes:
    """A body written by hand (so it can hold what ``json.dumps`` would not produce)."""
    return text.encode("utf-8")


def _xfail(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"issue 14 point 5: {reason}")


HOSTILE = [
    pytest.param(
        Hostile("POST", "/api/v1/messages", "api", _json("[" * DEEP + "]" * DEEP), 400, "invalid_json"),
        id="messages-body-nested-10000-deep",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/api/v1/handoffs/1/claim",
            "agent",
            _json('{"agent_id": ' + "[" * DEEP + "]" * DEEP + "}"),
            400,
            "invalid_json",
        ),
        id="claim-field-nested-10000-deep",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/api/v1/messages",
            "api",
            _json('{"conversation_id": "h-1", "text": "\\ud800"}'),
            400,
            "invalid_json",  # unstorable text anywhere in a body is refused where the body is parsed
        ),
        id="messages-text-lone-surrogate",
    ),
    pytest.param(
        Hostile("POST", "/api/v1/handoffs/1/claim", "agent", _json('{"agent_id": "AG-\\ud800"}'), 400, "invalid_json"),
        id="claim-agent-id-lone-surrogate",
    ),
    pytest.param(
        Hostile("POST", "/api/v1/deep-links", "api", _json('{"customer_id": "C\\udfff"}'), 400, "invalid_json"),
        id="deep-link-customer-id-lone-surrogate",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/api/v1/handoffs/2/messages",
            "agent",
            _json('{"agent_id": "AG-01", "text": "hi \\ud800"}'),
            400,
            "invalid_json",
        ),
        id="agent-text-lone-surrogate",
    ),
    pytest.param(
        Hostile("GET", f"/api/v1/conversations/fuzz-1/messages?after={2**63}", "api", None, 400, "invalid_cursor"),
        id="after-beyond-int64",
    ),
    pytest.param(
        Hostile("GET", "/api/v1/handoffs/%C2%B2", "agent", None, 404, "not_found"),
        id="handoff-id-superscript-two",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/api/v1/messages",
            "api",
            _json('{"conversation_id": "h-2\\n", "text": "hi"}'),
            400,
            "invalid_conversation_id",
        ),
        id="conversation-id-trailing-newline",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/api/v1/messages",
            "api",
            json.dumps({"conversation_id": "h-3", "text": "hi", "padding": "x" * 100_000}).encode(),
            413,
            "too_large",
            chunked=True,
        ),
        id="chunked-body-over-64-KiB",
    ),
    # Refused correctly today: kept so they stay that way.
    pytest.param(
        Hostile("POST", "/api/v1/messages", "api", b'{"conversation_id": "h-4", "text": "\xff"}', 400, "invalid_json"),
        id="invalid-utf-8",
    ),
    pytest.param(
        Hostile("POST", "/api/v1/messages", "api", b'{"conversation_id": "h-5", "text": NaN}', 400, "invalid_text"),
        id="text-nan",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/api/v1/messages",
            "api",
            _json('{"conversation_id": "h-6", "text": "\\u0000\\u0007 \\t"}'),
            400,
            "invalid_text",
        ),
        id="text-only-control-characters",
    ),
    pytest.param(
        Hostile(
            "POST",
            "/api/v1/messages",
            "api",
            json.dumps({"conversation_id": "h-7", "text": "x" * 70_000}).encode(),
            413,
            "too_large",
        ),
        id="body-over-64-KiB",
    ),
    pytest.param(
        Hostile("GET", "/api/v1/conversations/%ED%A0%80/messages", "api", None, 400, "invalid_conversation_id"),
        id="path-surrogate-bytes",
    ),
    pytest.param(
        Hostile("GET", "/api/v1/handoffs/1234567890123", "agent", None, 404, "not_found"), id="handoff-id-13-digits"
    ),
]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def claimed(live_gateway: LiveGateway, http: aiohttp.ClientSession) -> int:
    """Handoff 2, claimed by AG-01 (so an agent's text reaches the insert); claiming again is a 200."""
    async with http.post(
        f"{live_gateway.url}/api/v1/handoffs/2/claim",
        json={"agent_id": "AG-01"},
        headers={"Authorization": f"Bearer {live_gateway.agent_token}"},
    ) as response:
        assert response.status == 200, await response.text()
    return 2


async def _body_chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 16 * 1024):
        yield body[start : start + 16 * 1024]


@pytest.mark.parametrize("case", HOSTILE)
async def test_hostile_request_gets_a_4xx(
    case: Hostile, live_gateway: LiveGateway, claimed: int, http: aiohttp.ClientSession
) -> None:
    token = live_gateway.api_token if case.token == "api" else live_gateway.agent_token
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    data = _body_chunks(case.body) if case.chunked and case.body is not None else case.body
    before = len(live_gateway.unhandled_errors)
    async with http.request(
        case.method, f"{live_gateway.url}{case.path}", data=data, headers=headers, skip_auto_headers=["Accept-Encoding"]
    ) as response:
        text = await response.text()
        assert (response.status, response.content_type) == (case.status, "application/json"), text[:300]
        assert json.loads(text)["error"]["code"] == case.code, text[:300]
    assert live_gateway.unhandled_errors[before:] == []


# -- the web widget's WebSocket (docs/websocket-protocol.md) ------------------------------------


async def _first_answer(http: aiohttp.ClientSession, gateway: LiveGateway, frame: str) -> list[aiohttp.WSMessage]:
    """Send ``frame`` first on a new connection; what the server sends until it closes or goes quiet."""
    answers = []
    async with http.ws_connect(f"{gateway.url}/ws") as ws:
        await ws.send_str(frame)
        while True:
            try:
                message = await ws.receive(timeout=2)
            except asyncio.TimeoutError:
                break
            answers.append(message)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                break
    return answers


def _closed_after_bad_frame(answers: list[aiohttp.WSMessage]) -> bool:
    texts = [json.loads(m.data) for m in answers if m.type == aiohttp.WSMsgType.TEXT]
    closed = any(m.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) for m in answers)
    return closed and [t.get("code") for t in texts if t.get("type") == "error"] == ["bad_frame"]


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(
            "[" * DEEP + "]" * DEEP,
            id="nested-10000-deep",
        ),
        pytest.param(
            '{"type": "hello", "conversation_id": 5, "after": "x", "customer_token": 7}',
            id="hello-with-wrong-types",
        ),
        pytest.param('{"type": "message", "text": "hi", "client_id": "a1"}', id="message-before-hello"),
    ],
)
async def test_an_invalid_first_frame_gets_bad_frame_and_a_close(
    frame: str, live_gateway: LiveGateway, http: aiohttp.ClientSession
) -> None:
    answers = await _first_answer(http, live_gateway, frame)
    assert _closed_after_bad_frame(answers), [(m.type, m.data) for m in answers]


async def test_a_message_with_a_lone_surrogate_is_refused_as_bad_frame(
    live_gateway: LiveGateway, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{live_gateway.url}/ws") as ws:
        await ws.send_str('{"type": "hello", "conversation_id": null, "after": null}')
        welcome = await ws.receive_json(timeout=5)
        assert welcome["type"] == "welcome"
        await ws.send_str('{"type": "message", "text": "hi \\ud800", "client_id": "surrogate-1"}')
        frames = []
        while not any(f.get("type") == "error" or f.get("sender") == "bot" for f in frames):
            frames.append(await ws.receive_json(timeout=5))
    errors = [f for f in frames if f.get("type") == "error"]
    assert [(e["code"], e.get("client_id")) for e in errors] == [("bad_frame", "surrogate-1")], frames
