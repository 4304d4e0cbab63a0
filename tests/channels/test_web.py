"""The web widget's WebSocket protocol against the real gateway and a fake Rasa."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import ClientWebSocketResponse
from aiohttp.test_utils import TestClient

from tests.fakes.rasa import FakeRasa

Gateway = tuple[TestClient, FakeRasa]


async def _frames_until(ws: ClientWebSocketResponse, predicate: Any, limit: int = 20) -> list[dict[str, Any]]:
    frames = []
    for _ in range(limit):
        frame = json.loads((await ws.receive(timeout=5)).data)
        frames.append(frame)
        if predicate(frame):
            return frames
    raise AssertionError(f"condition not met in {frames}")


SECRETS: dict[str, str] = {}  # conversation id -> the resume secret its first welcome handed out


async def _connect(client: TestClient, conversation_id: str | None = None, after: int | None = None) -> tuple:
    ws = await client.ws_connect("/ws")
    hello = {"type": "hello", "conversation_id": conversation_id, "after": after}
    if conversation_id in SECRETS:
        hello["resume_secret"] = SECRETS[conversation_id]
    await ws.send_json(hello)
    welcome = await ws.receive_json(timeout=5)
    assert welcome["type"] == "welcome"
    if "resume_secret" in welcome:
        SECRETS[welcome["conversation_id"]] = welcome["resume_secret"]
    return ws, welcome["conversation_id"]


def _typing_off(frame: dict) -> bool:
    return frame == {"type": "typing", "on": False}


async def test_message_gets_echo_typing_and_reply(gateway: Gateway) -> None:
    client, fake = gateway
    ws, conversation_id = await _connect(client)
    assert conversation_id.startswith("web-")
    await ws.send_json({"type": "message", "text": "Track my order", "payload": "/greet", "client_id": "m1"})
    frames = await _frames_until(ws, _typing_off)
    kinds = [(f["type"], f.get("sender")) for f in frames]
    assert kinds == [("typing", None), ("message", "customer"), ("message", "bot"), ("typing", None)]
    assert frames[1]["client_id"] == "m1" and frames[1]["text"] == "Track my order"
    assert frames[2]["buttons"] == [{"title": "Track my order", "payload": "/order_status"}]
    assert fake.received[0]["message"] == "/greet"
    assert fake.received[0]["metadata"]["channel"] == "web"
    await ws.close()


async def test_reconnect_replays_after_cursor_and_dedupes_resent_messages(gateway: Gateway) -> None:
    client, fake = gateway
    ws, conversation_id = await _connect(client)
    await ws.send_json({"type": "message", "text": "hello", "client_id": "m1"})
    frames = await _frames_until(ws, _typing_off)
    customer_cursor = frames[1]["cursor"]
    await ws.close()

    ws2, same = await _connect(client, conversation_id, after=customer_cursor)
    assert same == conversation_id
    replay = await ws2.receive_json(timeout=5)
    assert replay["sender"] == "bot" and replay["text"] == "you said: hello"
    await ws2.send_json({"type": "message", "text": "hello", "client_id": "m1"})  # resend after a drop
    echo = await ws2.receive_json(timeout=5)  # the stored message again: its turn is not run twice
    assert (echo["type"], echo["cursor"], echo["client_id"]) == ("message", customer_cursor, "m1")
    await ws2.send_json({"type": "ping"})
    assert await ws2.receive_json(timeout=5) == {"type": "pong"}  # and nothing else came before
    assert len(fake.received) == 1
    await ws2.close()


async def test_unknown_or_foreign_conversation_ids_are_not_adopted(gateway: Gateway, auth: dict) -> None:
    client, _ = gateway
    await client.post("/api/v1/messages", json={"conversation_id": "direct-1", "text": "hi"}, headers=auth)
    for requested in ("made-up-id", "direct-1"):
        ws, conversation_id = await _connect(client, requested)
        assert conversation_id != requested and conversation_id.startswith("web-")
        await ws.close()


async def test_bad_frames_get_error_frames_and_the_connection_survives(gateway: Gateway) -> None:
    client, fake = gateway
    ws, _ = await _connect(client)
    await ws.send_str("{oops")
    assert (await ws.receive_json(timeout=5))["code"] == "bad_frame"
    await ws.send_json({"type": "message", "text": "x" * 4001, "client_id": "m2"})
    error = await ws.receive_json(timeout=5)
    assert error["code"] == "too_long" and "4000" in error["message"] and error["client_id"] == "m2"
    await ws.send_json({"type": "message", "text": "<b>hi</b>", "client_id": "m3"})
    frames = await _frames_until(ws, _typing_off)
    assert frames[1]["text"] == "<b>hi</b>"  # stored verbatim; the widget escapes on display
    assert len(fake.received) == 1
    await ws.send_json({"type": "ping"})
    assert await ws.receive_json(timeout=5) == {"type": "pong"}
    await ws.close()


async def test_first_frame_must_be_hello(gateway: Gateway) -> None:
    client, _ = gateway
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "message", "text": "hi", "client_id": "m1"})
    assert (await ws.receive_json(timeout=5))["type"] == "error"
    await ws.receive(timeout=5)
    assert ws.closed


async def test_replay_pages_past_one_page(gateway: Gateway, monkeypatch) -> None:
    from bot.channels import web as web_channel

    monkeypatch.setattr(web_channel, "REPLAY_PAGE", 3)
    client, _ = gateway
    ws, conversation_id = await _connect(client)
    for i in range(4):  # 4 customer + 4 bot messages
        await ws.send_json({"type": "message", "text": f"m{i}", "client_id": f"id{i}"})
        await _frames_until(ws, _typing_off)
    await ws.close()
    ws2, _ = await _connect(client, conversation_id, after=0)
    replayed = [await ws2.receive_json(timeout=5) for _ in range(8)]
    assert [f["text"] for f in replayed[::2]] == ["m0", "m1", "m2", "m3"]
    cursors = [f["cursor"] for f in replayed]
    assert cursors == sorted(set(cursors))
    await ws2.close()


async def test_a_silent_connection_is_closed_and_an_oversized_frame_refused(gateway: Gateway, monkeypatch: Any) -> None:
    """The documented limits: a 64 KiB frame is the most a tab may send; a tab silent too long is let go."""
    from aiohttp import WSMsgType

    from bot.gateway.keys import WEB

    client, fake = gateway
    web_channel = client.server.app[WEB]
    monkeypatch.setattr(web_channel, "_limits", web_channel._limits.__class__(ws_idle_timeout_s=0.5))
    ws, _ = await _connect(client)
    await ws.send_json({"type": "ping"})
    assert await ws.receive_json(timeout=5) == {"type": "pong"}
    closing = await ws.receive(timeout=5)  # silent for longer than the idle limit
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED) and ws.close_code == 1001

    ws, _ = await _connect(client)
    await ws.send_str(json.dumps({"type": "message", "text": "x" * (65 * 1024), "client_id": "big"}))
    closing = await ws.receive(timeout=5)
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR) and ws.close_code == 1009
    assert fake.received == []


async def test_the_hello_must_come_within_ten_seconds(gateway: Gateway, monkeypatch: Any) -> None:
    from aiohttp import WSMsgType

    from bot.channels import web as web_module

    monkeypatch.setattr(web_module, "HELLO_TIMEOUT_S", 0.3)
    client, _ = gateway
    ws = await client.ws_connect("/ws")
    closing = await ws.receive(timeout=5)
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED) and ws.close_code == 1008
