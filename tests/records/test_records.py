"""Customer records: SQL and HTTP backends agree, stay per-customer, fail fast and are audited."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.db.engine import create_db_engine
from bot.db.migrate import upgrade
from bot.db.models import RecordAccess
from bot.db.seed import DemoData, seed_database
from bot.records import (
    AuditedRecords,
    CircuitBreaker,
    HttpRecords,
    RecordsBackend,
    RecordsUnavailable,
    SqlRecords,
    build_records,
    normalise_order_number,
)
from bot.records.reference_api import create_records_app
from bot.settings import RecordsSettings, Settings
from tests.helpers import free_port

TODAY = dt.date(2026, 11, 23)  # "today" of the demo data
TOKEN = "records-token-for-tests"
A = "C1020"  # six orders
B = "C1030"  # orders of their own
A_ORDERS = ["100365", "100312", "100270", "100260", "100188", "100145"]  # newest first
EXPIRED = "C1022"  # both devices out of warranty
COVERED = "C1044"  # all devices in warranty


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------- SQL backend


@pytest.fixture
def sql(seeded_engine: Engine) -> SqlRecords:
    return SqlRecords(seeded_engine)


async def test_customer_finds_their_order_with_lines(sql: SqlRecords, demo_data: DemoData) -> None:
    order = await sql.order(A, "100365")
    assert order is not None
    record = next(o for o in demo_data.orders if o.number == "100365")
    assert order.number == "100365"
    assert order.status == record.status.value
    assert order.placed_at == record.placed_at.date()
    assert order.total_cents == record.total_cents
    assert order.tracking_number == record.tracking_number
    assert [(line.sku, line.quantity) for line in order.lines] == [(i.sku, i.quantity) for i in record.items]
    assert all(line.name for line in order.lines)
    assert order.to_dict()["placed_at"] == record.placed_at.date().isoformat()


@pytest.mark.parametrize("typed", ["#100365", " # 100 365 ", "100365\n"])
async def test_order_numbers_are_normalised(sql: SqlRecords, typed: str) -> None:
    order = await sql.order(A, typed)
    assert order is not None and order.number == "100365"


async def test_someone_elses_order_is_not_found_like_a_missing_one(sql: SqlRecords) -> None:
    assert await sql.order(B, "100365") is None
    assert await sql.order(B, "999999") is None
    assert await sql.order("C9999", "100365") is None
    assert await sql.order(A, "") is None


async def test_recent_orders_newest_first(sql: SqlRecords) -> None:
    assert [o.number for o in await sql.recent_orders(A, limit=10)] == A_ORDERS
    assert [o.number for o in await sql.recent_orders(A)] == A_ORDERS[:5]
    assert [o.number for o in await sql.recent_orders(A, limit=2)] == A_ORDERS[:2]
    assert all(o.number not in A_ORDERS for o in await sql.recent_orders(B))


async def test_device_warranty_in_and_out(sql: SqlRecords) -> None:
    expired = await sql.devices(EXPIRED)
    assert {d.serial for d in expired} == {"NX-1K-50633C", "NX-3K-1A5202"}
    assert not any(d.in_warranty(TODAY) for d in expired)
    covered = await sql.devices(COVERED)
    assert len(covered) == 4 and all(d.in_warranty(TODAY) for d in covered)
    assert [d.purchased_on for d in covered] == sorted((d.purchased_on for d in covered), reverse=True)
    device = await sql.device(EXPIRED, "nx-1k-50633c ")
    assert device is not None
    assert device.serial == "NX-1K-50633C" and device.warranty_until == dt.date(2024, 3, 14)
    assert device.product_name
    assert device.in_warranty(dt.date(2024, 3, 14)) and not device.in_warranty(dt.date(2024, 3, 15))
    assert await sql.device(COVERED, "NX-1K-50633C") is None  # someone else's serial
    assert await sql.device(EXPIRED, "NX-NOPE") is None


async def test_subscriptions(sql: SqlRecords, demo_data: DemoData) -> None:
    subs = await sql.subscriptions("C1022")
    assert [(s.id, s.plan_sku, s.status, s.next_bill_on) for s in subs] == [
        ("SUB-2015", "NS-SHIELD-M", "paused", dt.date(2026, 12, 24))
    ]
    assert subs[0].plan_name and subs[0].price_cents == 499
    cancelled = await sql.subscriptions("C1032")
    assert cancelled[0].status == "cancelled" and cancelled[0].next_bill_on is None
    assert await sql.subscriptions("C1001") == []


async def test_invoices_newest_first(sql: SqlRecords, demo_data: DemoData) -> None:
    expected = sorted(
        (i for i in demo_data.invoices if i.customer_id == "C1003"), key=lambda i: (i.issued_on, i.number), reverse=True
    )
    assert len(expected) > 5
    assert [i.number for i in await sql.invoices("C1003")] == [i.number for i in expected[:5]]
    everything = await sql.invoices("C1003", limit=50)
    assert [i.number for i in everything] == [i.number for i in expected]
    assert everything[0].amount_cents == expected[0].amount_cents


async def test_email_lookup_is_case_insensitive(sql: SqlRecords) -> None:
    assert await sql.customer_id_for_email("anna.schmidt30@example.com") == "C1001"
    assert await sql.customer_id_for_email("  Anna.Schmidt30@EXAMPLE.com ") == "C1001"
    assert await sql.customer_id_for_email("nobody@example.com") is None
    assert await sql.customer_id_for_email("") is None


def test_normalise_order_number() -> None:
    assert normalise_order_number(" #100 104 ") == "100104"
    assert normalise_order_number("100104") == "100104"


# --------------------------------------------------------------------------- reference API + HTTP backend


async def _start(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return server


@pytest.fixture
async def api(seeded_engine: Engine) -> AsyncIterator[TestServer]:
    server = await _start(create_records_app(seeded_engine, TOKEN))
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def http(api: TestServer) -> AsyncIterator[HttpRecords]:
    client = HttpRecords(str(api.make_url("/")), TOKEN, timeout_s=2)
    try:
        yield client
    finally:
        await client.close()


async def _answers(backend: RecordsBackend) -> list[Any]:
    answers: list[Any] = []
    for customer in (A, B, EXPIRED, COVERED, "C1003", "C1032", "C9999"):
        answers.append(await backend.recent_orders(customer, limit=10))
        answers.append(await backend.devices(customer))
        answers.append(await backend.subscriptions(customer))
        answers.append(await backend.invoices(customer, limit=3))
    for customer, number in ((A, "100365"), (A, "#100 145"), (B, "100365"), (A, "999999")):
        answers.append(await backend.order(customer, number))
    for customer, serial in ((EXPIRED, "nx-1k-50633c"), (COVERED, "NX-1K-50633C"), (EXPIRED, "a/b")):
        answers.append(await backend.device(customer, serial))
    for email in ("ANNA.SCHMIDT30@example.com", "nobody@example.com"):
        answers.append(await backend.customer_id_for_email(email))
    return answers


async def test_http_backend_answers_like_sql(sql: SqlRecords, http: HttpRecords) -> None:
    expected = await _answers(sql)
    assert any(expected) and None in expected
    assert await _answers(http) == expected


async def test_reference_api_requires_the_token(api: TestServer, http: HttpRecords) -> None:
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            async with session.get(api.make_url(f"/v1/customers/{A}/orders"), headers=headers) as response:
                assert response.status == 401
                assert (await response.json())["error"]["code"] == "unauthorized"
        async with session.get(api.make_url("/v1/health")) as response:
            assert response.status == 200 and await response.json() == {"status": "ok"}
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for path, status in (
            (f"/v1/customers/{A}/orders?limit=abc", 400),
            (f"/v1/customers/{A}/invoices?limit=0", 400),
            ("/v1/customers?email=not-an-address", 400),
            ("/v1/customers", 400),
            (f"/v1/customers/{B}/orders/100365", 404),
            ("/v1/nothing-here", 404),
        ):
            async with session.get(api.make_url(path), headers=auth) as response:
                assert response.status == status, path
                assert "error" in await response.json()
        async with session.get(api.make_url(f"/v1/customers/{A}/orders?limit=1"), headers=auth) as response:
            body = await response.json()
            assert [o["number"] for o in body["orders"]] == A_ORDERS[:1]


def test_reference_api_needs_a_token(seeded_engine: Engine) -> None:
    with pytest.raises(ValueError):
        create_records_app(seeded_engine, "")


# --------------------------------------------------------------------------- fault injection (SQLite only)


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory, demo_data: DemoData) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('records') / 'bot.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    seed_database(engine, demo_data)
    try:
        yield engine
    finally:
        engine.dispose()


@dataclasses.dataclass
class Faults:
    """What the faulty server does: ``mode`` is ok, fail_then_ok, fail or slow."""

    mode: str = "ok"
    failures_left: int = 0
    requests: int = 0
    release: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


@pytest.fixture
async def faulty(sqlite_engine: Engine) -> AsyncIterator[tuple[TestServer, Faults]]:
    """The reference API behind a middleware that injects 5xx answers and slowness, counting requests."""
    faults = Faults()

    @web.middleware
    async def inject(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
        faults.requests += 1
        if faults.mode == "fail" or (faults.mode == "fail_then_ok" and faults.failures_left > 0):
            faults.failures_left -= 1
            return web.json_response({"error": {"code": "boom", "message": "injected"}}, status=503)
        if faults.mode == "slow":
            try:
                await asyncio.wait_for(faults.release.wait(), timeout=10)
            except asyncio.TimeoutError:
                pass
        return await handler(request)

    app = create_records_app(sqlite_engine, TOKEN)
    app.middlewares.append(inject)
    server = await _start(app)
    try:
        yield server, faults
    finally:
        faults.release.set()
        await server.close()


def _client(server: TestServer, **kwargs: Any) -> HttpRecords:
    options: dict[str, Any] = {"timeout_s": 1.0, "retries": 2, "backoff_s": 0.05}
    options.update(kwargs)
    return HttpRecords(str(server.make_url("")), options.pop("token", TOKEN), **options)


async def test_5xx_twice_then_ok_is_answered_after_retries(faulty: tuple[TestServer, Faults]) -> None:
    server, faults = faulty
    faults.mode, faults.failures_left = "fail_then_ok", 2
    client = _client(server)
    try:
        order = await client.order(A, "100365")
    finally:
        await client.close()
    assert order is not None and order.number == "100365"
    assert faults.requests == 3
    assert client.breaker.state == "closed"


async def test_always_5xx_is_unavailable(faulty: tuple[TestServer, Faults]) -> None:
    server, faults = faulty
    faults.mode = "fail"
    client = _client(server)
    try:
        with pytest.raises(RecordsUnavailable) as raised:
            await client.recent_orders(A)
    finally:
        await client.close()
    assert faults.requests == 3  # one try and two retries
    assert A not in str(raised.value)


async def test_4xx_is_not_retried(faulty: tuple[TestServer, Faults]) -> None:
    server, faults = faulty
    client = _client(server, token="wrong-token")
    try:
        with pytest.raises(RecordsUnavailable) as raised:
            await client.devices(EXPIRED)
    finally:
        await client.close()
    assert faults.requests == 0  # the auth middleware answers 401 before the fault middleware
    assert "401" in str(raised.value) and "wrong-token" not in str(raised.value)


async def test_slow_api_is_unavailable_within_the_deadline(faulty: tuple[TestServer, Faults]) -> None:
    server, faults = faulty
    faults.mode = "slow"
    client = _client(server, backoff_s=0.2)  # 1 s x 3 tries + 0.2 + 0.4 backoff = 3.6 s, cut to 2.5 s
    assert client.worst_case_s == pytest.approx(2.5)
    started = time.monotonic()
    try:
        with pytest.raises(RecordsUnavailable):
            await client.order(A, "100365")
    finally:
        await client.close()
    elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 3.0, elapsed
    assert faults.requests == 2  # no third attempt fits in the deadline


async def test_default_timeout_is_bounded_by_the_deadline() -> None:
    client = HttpRecords("http://127.0.0.1:1", TOKEN, timeout_s=3.0)
    assert client.worst_case_s == pytest.approx(2.5)
    with pytest.raises(ValueError):
        HttpRecords("http://127.0.0.1:1", TOKEN, timeout_s=3.5)


async def test_connection_refused_is_unavailable() -> None:
    client = HttpRecords(f"http://127.0.0.1:{free_port()}", TOKEN, timeout_s=1, backoff_s=0.01)
    started = time.monotonic()
    try:
        with pytest.raises(RecordsUnavailable):
            await client.subscriptions(A)
    finally:
        await client.close()
    assert time.monotonic() - started < 4.0


async def test_circuit_opens_fails_fast_and_half_opens(faulty: tuple[TestServer, Faults]) -> None:
    server, faults = faulty
    faults.mode = "fail"
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=30, clock=clock)
    client = _client(server, retries=1, backoff_s=0.01, breaker=breaker)
    try:
        for _ in range(3):
            with pytest.raises(RecordsUnavailable):
                await client.invoices(A)
        assert faults.requests == 6 and breaker.state == "open"

        started = time.monotonic()
        for _ in range(5):
            with pytest.raises(RecordsUnavailable):
                await client.invoices(A)
        assert faults.requests == 6  # open: nothing reached the server
        assert time.monotonic() - started < 0.5

        clock.now += 30  # half-open: one trial, which fails and reopens the circuit
        assert breaker.state == "half_open"
        with pytest.raises(RecordsUnavailable):
            await client.invoices(A)
        assert faults.requests == 8 and breaker.state == "open"
        with pytest.raises(RecordsUnavailable):
            await client.invoices(A)
        assert faults.requests == 8

        clock.now += 30  # half-open again; the API recovered: the trial closes the circuit
        faults.mode = "ok"
        assert [i.number for i in await client.invoices("C1003", limit=1)]
        assert faults.requests == 9 and breaker.state == "closed"
        assert await client.order(A, "100365") is not None
        assert faults.requests == 10
    finally:
        await client.close()


def test_half_open_lets_one_trial_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=5, clock=clock)
    breaker.before_call()
    breaker.record_failure()
    with pytest.raises(RecordsUnavailable):
        breaker.before_call()
    clock.now += 5
    breaker.before_call()  # the trial
    with pytest.raises(RecordsUnavailable):
        breaker.before_call()  # a second caller while the trial is in flight
    breaker.record_success()
    assert breaker.state == "closed"
    breaker.before_call()


def test_build_records_chooses_the_backend(settings: Settings, sqlite_engine: Engine) -> None:
    assert isinstance(build_records(settings.records, sqlite_engine), SqlRecords)
    http_settings = RecordsSettings(backend="http", url="http://127.0.0.1:8090", token=TOKEN, timeout_s=1.5)
    backend = build_records(http_settings, sqlite_engine)
    assert isinstance(backend, HttpRecords) and backend.timeout_s == 1.5
    assert isinstance(backend, RecordsBackend)


# --------------------------------------------------------------------------- audit


def _audit_rows(engine: Engine) -> list[tuple[str, str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                RecordAccess.customer_id, RecordAccess.record_kind, RecordAccess.channel, RecordAccess.outcome
            ).order_by(RecordAccess.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_audit_rows_say_who_what_kind_where_never_contents(
    seeded_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    audited = AuditedRecords(SqlRecords(seeded_engine), seeded_engine, "web")
    assert await audited.order(A, "#100365") is not None
    assert await audited.order(B, "100365") is None
    assert len(await audited.recent_orders(A)) == 5
    assert await audited.device(EXPIRED, "NX-1K-50633C") is not None
    assert await audited.devices("C1001") == []
    telegram = audited.with_channel("telegram")
    assert await telegram.subscriptions("C1022")
    assert await telegram.invoices("C1003")
    assert await telegram.customer_id_for_email("Anna.Schmidt30@example.com") == "C1001"

    refused = HttpRecords(f"http://127.0.0.1:{free_port()}", TOKEN, timeout_s=1, retries=0)
    try:
        with pytest.raises(RecordsUnavailable):
            await AuditedRecords(refused, seeded_engine, "slack").order(A, "100365")
    finally:
        await refused.close()

    rows = _audit_rows(seeded_engine)
    assert rows == [
        (A, "order", "web", "found"),
        (B, "order", "web", "not_found"),
        (A, "orders", "web", "found"),
        (EXPIRED, "device", "web", "found"),
        ("C1001", "devices", "web", "not_found"),
        ("C1022", "subscriptions", "telegram", "found"),
        ("C1003", "invoices", "telegram", "found"),
        (A, "order", "slack", "unavailable"),
    ]
    secrets = ("100365", "NX-1K-50633C", "anna.schmidt30", "@example", TOKEN)
    for row in rows:
        for value in row:
            assert not any(secret.lower() in value.lower() for secret in secrets)
    for record in caplog.records:
        line = record.getMessage().lower()
        assert not any(secret.lower() in line for secret in secrets), line
