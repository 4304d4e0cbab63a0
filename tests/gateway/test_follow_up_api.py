"""The follow-up endpoints of the direct API: order status reports and customers' notification settings."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import Engine

from bot.db.engine import create_db_engine, session_factory
from bot.db.models import ChannelIdentity, utcnow
from bot.db.seed import DemoData, seed_database
from bot.settings import Settings
from tests.fakes.rasa import FakeRasa
from tests.orders import add_customer, add_order

Gateway = tuple[TestClient, FakeRasa]


@pytest.fixture
def engine(gateway: Gateway, fake_rasa: tuple[FakeRasa, Settings], demo_data: DemoData) -> Iterator[Engine]:
    """The gateway's database, with the demo data (orders need its products)."""
    engine = create_db_engine(fake_rasa[1].database_url)
    seed_database(engine, demo_data)
    try:
        yield engine
    finally:
        engine.dispose()


def _linked_customer(engine: Engine, chat_id: int) -> str:
    customer, _ = add_customer(engine)
    with session_factory(engine).begin() as session:
        now = utcnow()
        session.add(
            ChannelIdentity(
                channel="telegram", external_id=str(chat_id), customer_id=customer, linked_at=now, last_seen_at=now
            )
        )
    return customer


def _chat(engine: Engine, conversation: str) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT m.text FROM messages m JOIN channel_outbox o ON o.message_id = m.id"
                " WHERE m.conversation_id = :c ORDER BY m.id"
            ),
            {"c": conversation},
        )
        return [row.text for row in rows]


async def test_settings_then_a_shipped_order_notifies_once(gateway: Gateway, auth: dict, engine: Engine) -> None:
    client, fake = gateway
    customer = _linked_customer(engine, 880001)
    url = f"/api/v1/customers/{customer}/notifications"
    assert await (await client.get(url, headers=auth)).json() == {
        "customer_id": customer,
        "order_updates": False,
        "quiet_hours": None,
        "timezone": "UTC",
    }
    number = add_order(engine, customer, "processing")
    status_url = f"/api/v1/orders/{number}/status"
    resp = await client.post(status_url, json={"status": "shipped"}, headers=auth)
    assert resp.status == 200
    assert (await resp.json())["notification"] == {"outcome": "not_opted_in", "due_at": None}

    wanted = {"order_updates": True, "quiet_hours": None, "timezone": "Europe/Berlin"}
    resp = await client.put(url, json=wanted, headers=auth)
    assert resp.status == 200
    assert await resp.json() == {"customer_id": customer, **wanted}
    assert await (await client.get(url, headers=auth)).json() == {"customer_id": customer, **wanted}

    number = add_order(engine, customer, "processing")
    body = {"status": "shipped", "carrier": "DHL", "tracking_number": "JJD0001"}
    answers = await asyncio.gather(
        *(client.post(f"/api/v1/orders/{number}/status", json=body, headers=auth) for _ in range(3))
    )
    results = [await answer.json() for answer in answers]
    assert [answer.status for answer in answers] == [200, 200, 200]
    assert sorted(r["changed"] for r in results) == [False, False, True]
    assert sorted(r["notification"]["outcome"] for r in results) == ["already_recorded", "already_recorded", "sent"]
    assert all(r["order_number"] == number and r["status"] == "shipped" for r in results)
    expected = f"Good news: your order {number} has shipped with DHL. Tracking number: JJD0001."
    assert _chat(engine, "telegram-880001") == [expected]
    assert fake.received == []  # the dialogue model is not involved


async def test_quiet_hours_are_answered_with_when_it_is_due(gateway: Gateway, auth: dict, engine: Engine) -> None:
    client, _ = gateway
    customer = _linked_customer(engine, 880002)
    # Quiet all day but one minute: whenever the test runs, the update waits.
    now = dt.datetime.now(dt.timezone.utc)
    end = (now - dt.timedelta(minutes=1)).strftime("%H:%M")
    start = now.strftime("%H:%M")
    settings = {"order_updates": True, "quiet_hours": {"start": start, "end": end}, "timezone": "UTC"}
    assert (await client.put(f"/api/v1/customers/{customer}/notifications", json=settings, headers=auth)).status == 200
    number = add_order(engine, customer, "shipped")
    resp = await client.post(f"/api/v1/orders/{number}/status", json={"status": "delivered"}, headers=auth)
    notification = (await resp.json())["notification"]
    assert notification["outcome"] == "waiting"
    due = dt.datetime.fromisoformat(notification["due_at"].replace("Z", "+00:00"))
    assert now < due < now + dt.timedelta(days=1) and due.strftime("%H:%M") == end
    assert _chat(engine, "telegram-880002") == []


async def test_bad_reports_and_settings_get_clear_errors(gateway: Gateway, auth: dict, engine: Engine) -> None:
    client, _ = gateway
    customer = _linked_customer(engine, 880003)
    number = add_order(engine, customer, "delivered", delivered_days_ago=2)
    cases = [
        ("/api/v1/orders/999999/status", {"status": "shipped"}, 404, "unknown_order"),
        ("/api/v1/orders/%3Cscript%3E/status", {"status": "shipped"}, 404, "unknown_order"),
        (f"/api/v1/orders/{number}/status", {"status": "lost"}, 400, "unknown_status"),
        (f"/api/v1/orders/{number}/status", {"status": ["shipped"]}, 400, "unknown_status"),
        (f"/api/v1/orders/{number}/status", {}, 400, "unknown_status"),
        (f"/api/v1/orders/{number}/status", {"status": "shipped", "carrier": 7}, 400, "invalid_carrier"),
        (
            f"/api/v1/orders/{number}/status",
            {"status": "shipped", "tracking_number": "x" * 61},
            400,
            "invalid_tracking_number",
        ),
        (f"/api/v1/orders/{number}/status", {"status": "shipped"}, 409, "impossible_transition"),
    ]
    for url, body, status, code in cases:
        resp = await client.post(url, json=body, headers=auth)
        assert (resp.status, (await resp.json())["error"]["code"]) == (status, code), (url, body)
    resp = await client.post(f"/api/v1/orders/{number}/status", data=b"{not json", headers=auth)
    assert (resp.status, (await resp.json())["error"]["code"]) == (400, "invalid_json")
    resp = await client.post(f"/api/v1/orders/{number}/status", json={"status": "delivered"}, headers=auth)
    assert resp.status == 200 and (await resp.json())["changed"] is False  # a repeat: idempotent

    url = f"/api/v1/customers/{customer}/notifications"
    bad_settings = [
        ({"order_updates": "yes"}, "invalid_order_updates"),
        ({}, "invalid_order_updates"),
        ({"order_updates": True, "timezone": "Mars/Base"}, "invalid_settings"),
        ({"order_updates": True, "quiet_hours": {"start": "22:00"}}, "invalid_settings"),
        ({"order_updates": True, "quiet_hours": {"start": "22:00", "end": "25:00"}}, "invalid_settings"),
        ({"order_updates": True, "quiet_hours": {"start": "07:00", "end": "07:00"}}, "invalid_settings"),
        ({"order_updates": True, "quiet_hours": "22-07"}, "invalid_settings"),
    ]
    for body, code in bad_settings:
        resp = await client.put(url, json=body, headers=auth)
        assert (resp.status, (await resp.json())["error"]["code"]) == (400, code), body
    for bad_url in ("/api/v1/customers/NO-SUCH/notifications", "/api/v1/customers/%20x/notifications"):
        resp = await client.put(bad_url, json={"order_updates": True}, headers=auth)
        assert (resp.status, (await resp.json())["error"]["code"]) == (404, "unknown_customer")
        assert (await client.get(bad_url, headers=auth)).status == 404
    for method, path in (("POST", f"/api/v1/orders/{number}/status"), ("GET", url), ("PUT", url)):
        resp = await client.request(method, path, json={"status": "shipped"}, headers={"Authorization": "Bearer x"})
        assert resp.status == 401
