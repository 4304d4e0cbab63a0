"""The direct API (/api/v1) and health probes against a fake Rasa."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.identity.turns import METADATA_KEY, TurnIdentity
from tests.fakes.rasa import FakeRasa

Gateway = tuple[TestClient, FakeRasa]


async def test_message_round_trip_returns_replies_and_stores_everything(gateway: Gateway, auth: dict) -> None:
    client, fake = gateway
    headers = {**auth, "Idempotency-Key": "k-1"}
    resp = await client.post("/api/v1/messages", json={"conversation_id": "c-1", "text": "hi"}, headers=headers)
    assert resp.status == 200
    body = await resp.json()
    assert body == {
        "replies": [
            {"text": "Hi! How can I help?", "buttons": [{"title": "Track my order", "payload": "/order_status"}]}
        ],
        "handoff": None,
    }
    token = fake.received[0]["metadata"].get(METADATA_KEY)
    assert fake.received == [
        {
            "sender": "c-1",
            "message": "hi",
            "metadata": {
                "channel": "direct",
                "conversation_id": "c-1",
                "channel_user": "c-1",
                "turn": "k-1",
                METADATA_KEY: token,
            },
        }
    ]
    # Who wrote travels only in the signed turn token: an anonymous customer of the direct API.
    assert fake.vouched("turn-secret-for-tests-at-least-32-bytes") == TurnIdentity("c-1", "direct", "c-1", turn="k-1")
    # The customer channel takes the gateway's signature, not Rasa's API token (which stays off the webhook).
    assert (fake.tokens_seen, fake.refused) == ([None], [])
    listed = await (await client.get("/api/v1/conversations/c-1/messages", headers=auth)).json()
    assert [(m["sender"], m["text"]) for m in listed["messages"]] == [
        ("customer", "hi"),
        ("bot", "Hi! How can I help?"),
    ]
    assert listed["messages"][1]["buttons"] == [{"title": "Track my order", "payload": "/order_status"}]
    assert listed["next_cursor"] == listed["messages"][-1]["cursor"]


async def test_messages_after_cursor_returns_only_later_messages(gateway: Gateway, auth: dict) -> None:
    client, _ = gateway
    await client.post("/api/v1/messages", json={"conversation_id": "c-2", "text": "one"}, headers=auth)
    first = await (await client.get("/api/v1/conversations/c-2/messages", headers=auth)).json()
    await client.post("/api/v1/messages", json={"conversation_id": "c-2", "text": "two"}, headers=auth)
    later = await (
        await client.get(f"/api/v1/conversations/c-2/messages?after={first['next_cursor']}", headers=auth)
    ).json()
    assert [m["text"] for m in later["messages"]] == ["two", "first", "second"]
    cursors = [m["cursor"] for m in later["messages"]]
    assert cursors == sorted(cursors) and cursors[0] > first["next_cursor"]


async def test_missing_and_wrong_tokens_are_401(gateway: Gateway) -> None:
    client, fake = gateway
    body = {"conversation_id": "c-3", "text": "hi"}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        resp = await client.post("/api/v1/messages", json=body, headers=headers)
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "unauthorized"
    resp = await client.get("/api/v1/conversations/c-3/messages", headers={"Authorization": "Bearer agent-token"})
    assert resp.status == 401
    assert fake.received == []


async def test_bad_requests_get_clear_400s(gateway: Gateway, auth: dict) -> None:
    client, fake = gateway
    cases = [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b'{"text": "hi"}', "invalid_conversation_id"),
        (b'{"conversation_id": "a b", "text": "hi"}', "invalid_conversation_id"),
        (b'{"conversation_id": "ok", "text": 5}', "invalid_text"),
        (b'{"conversation_id": "ok", "text": "   "}', "invalid_text"),
        (b'{"conversation_id": "ok", "text": "hi", "customer_token": 7}', "invalid_customer_token"),
    ]
    for raw, code in cases:
        resp = await client.post("/api/v1/messages", data=raw, headers={**auth, "Content-Type": "application/json"})
        assert resp.status == 400, raw
        assert (await resp.json())["error"]["code"] == code, raw
    assert fake.received == []


async def test_text_over_4000_characters_is_refused(gateway: Gateway, auth: dict) -> None:
    client, fake = gateway
    ok = await client.post("/api/v1/messages", json={"conversation_id": "long", "text": "a" * 4000}, headers=auth)
    assert ok.status == 200
    resp = await client.post("/api/v1/messages", json={"conversation_id": "long", "text": "a" * 4001}, headers=auth)
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "text_too_long"
    assert len(fake.received) == 1


async def test_unknown_conversation_and_bad_cursor(gateway: Gateway, auth: dict) -> None:
    client, _ = gateway
    resp = await client.get("/api/v1/conversations/nobody/messages", headers=auth)
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "conversation_not_found"
    await client.post("/api/v1/messages", json={"conversation_id": "c-4", "text": "hi"}, headers=auth)
    for after in ("x", "-1"):
        resp = await client.get(f"/api/v1/conversations/c-4/messages?after={after}", headers=auth)
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "invalid_cursor"
    resp = await client.get("/api/v1/nothing-here", headers=auth)
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"


async def test_rasa_down_gives_polite_reply_and_keeps_the_message(gateway: Gateway, auth: dict) -> None:
    client, fake = gateway
    fake.fail_with = 500
    resp = await client.post("/api/v1/messages", json={"conversation_id": "c-5", "text": "hello?"}, headers=auth)
    assert resp.status == 200
    replies = (await resp.json())["replies"]
    assert len(replies) == 1 and "trouble" in replies[0]["text"]
    stored = await (await client.get("/api/v1/conversations/c-5/messages", headers=auth)).json()
    assert (stored["messages"][0]["sender"], stored["messages"][0]["text"]) == ("customer", "hello?")
    fake.fail_with = None
    resp = await client.post("/api/v1/messages", json={"conversation_id": "c-5", "text": "again"}, headers=auth)
    assert (await resp.json())["replies"] == [{"text": "you said: again", "buttons": []}]


async def test_healthz_and_readyz(gateway: Gateway) -> None:
    client, fake = gateway
    assert (await client.get("/healthz")).status == 200
    resp = await client.get("/readyz")  # no action server is running in this test
    body = await resp.json()
    assert resp.status == 503
    assert body["checks"] == {"rasa": True, "action_server": False, "database": True}
    fake.model_loaded = False
    assert (await (await client.get("/readyz")).json())["checks"]["rasa"] is False


async def test_demo_page_and_widget_are_served(gateway: Gateway) -> None:
    client, _ = gateway
    page = await client.get("/")
    assert page.status == 200
    assert "/static/widget.js" in await page.text()
    script = await client.get("/static/widget.js")
    assert script.status == 200


async def test_no_reply_from_rasa_means_a_failed_action_and_gets_the_polite_reply(gateway: Gateway, auth: dict) -> None:
    client, _ = gateway
    resp = await client.post("/api/v1/messages", json={"conversation_id": "c-6", "text": "silence"}, headers=auth)
    replies = (await resp.json())["replies"]
    assert len(replies) == 1 and "trouble" in replies[0]["text"]


async def test_rasa_unreachable_gives_polite_reply_and_readyz_503(fake_rasa, auth: dict) -> None:
    from aiohttp.test_utils import TestServer

    from bot.db.migrate import upgrade
    from bot.gateway.app import create_app
    from tests.helpers import free_port

    _, settings = fake_rasa
    settings = settings.with_overrides(dialogue={"rasa_port": free_port()})  # nothing listens there
    upgrade(settings.database_url)
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        resp = await client.post("/api/v1/messages", json={"conversation_id": "d-1", "text": "hi"}, headers=auth)
        assert resp.status == 200 and "trouble" in (await resp.json())["replies"][0]["text"]
        ready = await client.get("/readyz")
        assert ready.status == 503 and (await ready.json())["checks"]["rasa"] is False
        listed = await (await client.get("/api/v1/conversations/d-1/messages", headers=auth)).json()
        assert [m["sender"] for m in listed["messages"]] == ["customer", "bot"]
    finally:
        await client.close()
