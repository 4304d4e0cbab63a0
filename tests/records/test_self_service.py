"""Self-service changes in the records backends: SQL and the HTTP reference API behave alike.

Every test runs on SQLite and PostgreSQL, through ``SqlRecords`` and through ``HttpRecords``
talking to the reference API on the same database. Orders are created relative to today, so
return windows and refund dates are real ones.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.db.models import (
    Customer,
    Order,
    RecordAccess,
    Refund,
    ReturnRequest,
    ServiceRequest,
)
from bot.records import AuditedRecords, HttpRecords, RecordsBackend, SqlRecords
from bot.records.policy import add_working_days, load_policy
from bot.records.reference_api import create_records_app
from bot.settings import PROJECT_ROOT
from tests.orders import TODAY, add_order

TOKEN = "records-token-for-self-service"
NL = "C1020"  # lives in the Netherlands: free return shipping
FR = "C1023"  # lives in France: the return fee is taken off the refund
OTHER = "C1030"
POLICY = load_policy(PROJECT_ROOT / "data")


def key() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
async def api(seeded_engine: Engine) -> AsyncIterator[TestServer]:
    server = TestServer(create_records_app(seeded_engine, TOKEN))
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture(params=["sql", "http"])
async def backend(request: pytest.FixtureRequest, seeded_engine: Engine) -> AsyncIterator[RecordsBackend]:
    if request.param == "sql":
        yield SqlRecords(seeded_engine)
        return
    server = TestServer(create_records_app(seeded_engine, TOKEN))
    await server.start_server()
    client = HttpRecords(str(server.make_url("/")), TOKEN, timeout_s=2)
    try:
        yield client
    finally:
        await client.close()
        await server.close()


def count(engine: Engine, model: type, **where: object) -> int:
    with engine.connect() as connection:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return int(connection.execute(query).scalar_one())


def order_row(engine: Engine, number: str) -> dict[str, object]:
    with engine.connect() as connection:
        return dict(connection.execute(select(Order).where(Order.number == number)).mappings().one())


# -- cancel ------------------------------------------------------------------------------------


async def test_cancelling_an_unshipped_order_refunds_it_once(backend: RecordsBackend, seeded_engine: Engine) -> None:
    number = add_order(seeded_engine, NL, "processing", method="paypal")
    request = key()
    result = await backend.cancel_order(NL, number, request)
    assert (result.outcome, result.reason, result.repeated) == ("done", None, False)
    assert result.refund is not None
    assert (result.refund.amount_cents, result.refund.method, result.refund.status) == (12999, "paypal", "pending")
    assert result.refund.expected_by == add_working_days(TODAY, POLICY.refund_time("paypal").days)
    assert order_row(seeded_engine, number)["status"] == "cancelled"

    again = await backend.cancel_order(NL, number, request)
    assert again.repeated and again.outcome == "done" and again.refund == result.refund
    assert count(seeded_engine, Refund, order_number=number) == 1
    assert count(seeded_engine, ServiceRequest, idempotency_key=request) == 1

    fresh = await backend.cancel_order(NL, number, key())
    assert (fresh.outcome, fresh.reason, fresh.repeated) == ("refused", "already_cancelled", False)
    assert count(seeded_engine, Refund, order_number=number) == 1

    refund = await backend.refund(NL, number)
    assert refund == result.refund


async def test_a_shipped_order_is_not_cancelled(backend: RecordsBackend, seeded_engine: Engine) -> None:
    number = add_order(seeded_engine, NL, "shipped")
    result = await backend.cancel_order(NL, number, key())
    assert (result.outcome, result.reason) == ("refused", "shipped")
    assert order_row(seeded_engine, number)["status"] == "shipped"
    assert count(seeded_engine, Refund, order_number=number) == 0


async def test_someone_elses_order_is_refused_like_a_missing_one(
    backend: RecordsBackend, seeded_engine: Engine
) -> None:
    number = add_order(seeded_engine, OTHER, "processing")
    theirs = await backend.cancel_order(NL, number, key())
    missing = await backend.cancel_order(NL, "199999", key())
    assert (theirs.outcome, theirs.reason) == (missing.outcome, missing.reason) == ("refused", "not_found")
    assert order_row(seeded_engine, number)["status"] == "processing"
    assert await backend.refund(NL, number) is None


async def test_the_same_confirmation_at_once_changes_the_order_once(seeded_engine: Engine) -> None:
    sql = SqlRecords(seeded_engine)
    number = add_order(seeded_engine, NL, "processing")
    request = key()
    results = await asyncio.gather(*(sql.cancel_order(NL, number, request) for _ in range(4)))
    assert sorted(r.repeated for r in results) == [False, True, True, True]
    assert {r.outcome for r in results} == {"done"}
    assert count(seeded_engine, Refund, order_number=number) == 1


# -- returns -----------------------------------------------------------------------------------


async def test_a_return_inside_the_window_gets_an_rma_a_label_and_its_refund(
    backend: RecordsBackend, seeded_engine: Engine
) -> None:
    number = add_order(seeded_engine, FR, "delivered", delivered_days_ago=5, method="card")
    request = key()
    result = await backend.start_return(FR, number, "changed_mind", request)
    assert result.outcome == "done" and result.reference and result.reference.startswith("R")
    assert result.label_url == f"/returns/{result.reference}/label"
    assert result.deadline == TODAY - dt.timedelta(days=5) + dt.timedelta(days=POLICY.return_window_days)
    assert result.refund is not None and result.refund.status == "awaiting_return"
    # France pays the return label unless the item is faulty or wrong.
    assert result.refund.amount_cents == 12999 - POLICY.return_shipping_fee_cents

    again = await backend.start_return(FR, number, "changed_mind", request)
    assert again.repeated and again.reference == result.reference
    assert count(seeded_engine, ReturnRequest, order_number=number) == 1
    fresh = await backend.start_return(FR, number, "faulty", key())
    assert (fresh.outcome, fresh.reason, fresh.reference) == ("refused", "return_open", result.reference)
    refund = await backend.refund(FR, number)
    assert refund is not None and refund.status == "awaiting_return"


async def test_a_faulty_item_is_returned_free_from_anywhere(backend: RecordsBackend, seeded_engine: Engine) -> None:
    number = add_order(seeded_engine, FR, "delivered", delivered_days_ago=2)
    result = await backend.start_return(FR, number, "faulty", key())
    assert result.refund is not None and result.refund.amount_cents == 12999


async def test_returns_outside_the_window_or_of_non_returnable_items_are_refused(
    backend: RecordsBackend, seeded_engine: Engine
) -> None:
    late = add_order(seeded_engine, NL, "delivered", delivered_days_ago=POLICY.return_window_days + 1)
    result = await backend.start_return(NL, late, "changed_mind", key())
    assert (result.outcome, result.reason) == ("refused", "outside_window")
    assert result.deadline == TODAY - dt.timedelta(days=1)
    cut = add_order(seeded_engine, NL, "delivered", delivered_days_ago=3, returnable=False)
    assert (await backend.start_return(NL, cut, "other", key())).reason == "not_returnable"
    on_its_way = add_order(seeded_engine, NL, "shipped")
    assert (await backend.start_return(NL, on_its_way, "other", key())).reason == "not_delivered"
    assert count(seeded_engine, ReturnRequest, customer_id=NL) == 0


# -- address, contact, marketing, deletion ------------------------------------------------------


async def test_the_address_of_an_unshipped_order_changes(backend: RecordsBackend, seeded_engine: Engine) -> None:
    number = add_order(seeded_engine, NL, "processing")
    bad = await backend.change_address(NL, number, "somewhere", key())
    assert (bad.outcome, bad.reason) == ("refused", "invalid_address")
    result = await backend.change_address(NL, number, "Keizersgracht 12\n1015 CS Amsterdam", key())
    assert (result.outcome, result.reason) == ("done", None)
    assert order_row(seeded_engine, number)["shipping_address"] == "Keizersgracht 12, 1015 CS Amsterdam"
    same = await backend.change_address(NL, number, "Keizersgracht 12, 1015 CS Amsterdam", key())
    assert (same.outcome, same.reason) == ("done", "unchanged")
    shipped = add_order(seeded_engine, NL, "shipped")
    late = await backend.change_address(NL, shipped, "Keizersgracht 12, 1015 CS Amsterdam", key())
    assert (late.outcome, late.reason) == ("refused", "shipped")
    assert order_row(seeded_engine, shipped)["shipping_address"] == "Old Street 1, 1000 AA Amsterdam"


async def test_contact_details_change_unless_the_address_belongs_to_someone_else(
    backend: RecordsBackend, seeded_engine: Engine
) -> None:
    with seeded_engine.connect() as connection:
        others = connection.execute(select(Customer.email).where(Customer.id == OTHER)).scalar_one()
    taken = await backend.update_contact(NL, "email", others.upper(), key())
    assert (taken.outcome, taken.reason) == ("refused", "in_use")
    done = await backend.update_contact(NL, "email", "femke.new@example.org", key())
    phone = await backend.update_contact(NL, "phone", "+31 6 1234 5678", key())
    assert (done.outcome, phone.outcome) == ("done", "done")
    with seeded_engine.connect() as connection:
        row = connection.execute(select(Customer.email, Customer.phone).where(Customer.id == NL)).one()
    assert tuple(row) == ("femke.new@example.org", "+31612345678")
    assert (await backend.update_contact(NL, "phone", "call me", key())).reason == "invalid_value"


async def test_marketing_opt_out_and_a_deletion_request_are_kept_once(
    backend: RecordsBackend, seeded_engine: Engine
) -> None:
    first = await backend.marketing_opt_out(NL, key())
    second = await backend.marketing_opt_out(NL, key())
    assert (first.reason, second.reason) == (None, "unchanged")
    with seeded_engine.connect() as connection:
        assert connection.execute(select(Customer.marketing_opt_in).where(Customer.id == NL)).scalar_one() is False
    asked = await backend.request_deletion(NL, key())
    again = await backend.request_deletion(NL, key())
    assert asked.outcome == again.outcome == "pending"
    assert asked.reference and again.reference == asked.reference and again.reason == "unchanged"
    assert count(seeded_engine, ServiceRequest, customer_id=NL, kind="account_deletion", reference=asked.reference) == 2


# -- audit and the API's guard ---------------------------------------------------------------------


async def test_changes_are_audited_without_their_contents(seeded_engine: Engine) -> None:
    audited = AuditedRecords(SqlRecords(seeded_engine), seeded_engine, "telegram")
    number = add_order(seeded_engine, NL, "processing")
    request = key()
    await audited.change_address(NL, number, "Keizersgracht 12, 1015 CS Amsterdam", request)
    await audited.change_address(NL, number, "Keizersgracht 12, 1015 CS Amsterdam", request)
    await audited.cancel_order(NL, "199998", key())
    with seeded_engine.connect() as connection:
        rows = connection.execute(
            select(RecordAccess.record_kind, RecordAccess.outcome, RecordAccess.channel)
            .where(RecordAccess.customer_id == NL)
            .order_by(RecordAccess.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("change_address", "done", "telegram"),
        ("change_address", "repeated", "telegram"),
        ("cancel_order", "refused", "telegram"),
    ]


async def test_the_api_refuses_malformed_changes(api: TestServer, seeded_engine: Engine) -> None:
    number = add_order(seeded_engine, NL, "processing")
    url = str(api.make_url(f"/v1/customers/{NL}/orders/{number}/cancellation"))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"idempotency_key": key()}) as response:
            assert response.status == 401
        for body in ({}, {"idempotency_key": "short"}, {"idempotency_key": 12345678}, ["x"]):
            async with session.post(url, json=body, headers=auth) as response:
                assert response.status == 400
                assert (await response.json())["error"]["code"] == "bad_request"
        async with session.post(url, data=b"{not json", headers=auth) as response:
            assert response.status == 400
        returns = str(api.make_url(f"/v1/customers/{NL}/orders/{number}/returns"))
        async with session.post(returns, json={"idempotency_key": key()}, headers=auth) as response:
            assert response.status == 400  # no reason
    assert order_row(seeded_engine, number)["status"] == "processing"
