"""Printable return labels, which the bot links to when a return starts."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy.engine import Engine

from bot.db.models import ReturnRequest
from bot.db.seed import load_demo_data, seed_database
from bot.gateway.keys import ENGINE
from bot.settings import PROJECT_ROOT
from tests.fakes.rasa import FakeRasa
from tests.orders import add_customer, add_order

Gateway = tuple[TestClient, FakeRasa]


def open_return(engine: Engine, status: str = "awaiting_parcel") -> str:
    seed_database(engine, load_demo_data(PROJECT_ROOT / "data"))
    customer, _ = add_customer(engine)
    number = add_order(engine, customer, "delivered", delivered_days_ago=2)
    with engine.begin() as connection:
        connection.execute(
            ReturnRequest.__table__.insert().values(
                rma="RABCDE2345",
                order_number=number,
                customer_id=customer,
                reason="faulty",
                status=status,
                refund_cents=12999,
                currency="EUR",
            )
        )
    return number


async def test_an_open_return_has_a_printable_label(gateway: Gateway) -> None:
    client, _ = gateway
    number = open_return(client.server.app[ENGINE])
    page = await client.get("/returns/rabcde2345/label")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert "RABCDE2345" in html and f"Order {number}" in html and "Old Street 1" in html
    assert "Nimbus Networks Returns" in html
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Robots-Tag"] == "noindex"


async def test_unknown_malformed_and_finished_returns_have_no_label(gateway: Gateway) -> None:
    client, _ = gateway
    open_return(client.server.app[ENGINE], status="refunded")
    for path in ("/returns/RABCDE2345/label", "/returns/RZZZZZZZZZ/label", "/returns/<script>/label"):
        page = await client.get(path)
        assert page.status == 404, path
        assert "<script>" not in await page.text()
