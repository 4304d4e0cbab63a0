"""Customer records behind identity, end to end on the real stack, and the attacks on them.

Identity comes only from the gateway: a signed customer token (direct API, web widget) or a
chat linked with a code emailed to the address on file (a real local SMTP server receives
it). Expected answers are computed from the demo data files, not written here.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.db.demo_types import CustomerRecord, OrderRecord
from bot.db.engine import create_db_engine
from bot.db.seed import load_demo_data
from bot.identity.tokens import mint_customer_token
from bot.records.reference_api import create_records_app
from bot.settings import PROJECT_ROOT, load_settings
from tests.mail import MailSink
from tests.services import require
from tests.stack import E2E_IDENTITY_SECRET, RunningStack, joined, say, serve_in_thread, start_stack

pytestmark = pytest.mark.e2e

DATA = load_demo_data(PROJECT_ROOT / "data")
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
NONEXISTENT_ORDER = next(str(n) for n in range(199999, 100000, -1) if str(n) not in {o.number for o in DATA.orders})


def _customer_with_shipped_order() -> tuple[CustomerRecord, OrderRecord]:
    subscribers = {s.customer_id for s in DATA.subscriptions}
    owners = {d.customer_id for d in DATA.devices}
    for order in DATA.orders:
        if order.status.value == "shipped" and order.customer_id in subscribers & owners and order.tracking_number:
            customer = next(c for c in DATA.customers if c.id == order.customer_id)
            return customer, order
    raise AssertionError("the demo data has no shipped order of a subscriber with devices")


ALICE, ALICE_ORDER = _customer_with_shipped_order()
BOB = next(c for c in DATA.customers if c.id != ALICE.id and any(o.customer_id == c.id for o in DATA.orders))


def token_for(customer_id: str, ttl_s: int = 600, secret: str = E2E_IDENTITY_SECRET) -> str:
    return mint_customer_token(customer_id, secret, ttl_s=ttl_s)


def unsigned_token(customer_id: str) -> str:
    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'sub': customer_id, 'exp': int(time.time()) + 600})}."


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def asks_to_verify(reply: dict[str, Any]) -> bool:
    return "make sure it's you" in joined(reply) and "email address" in joined(reply)


# -- a verified customer ---------------------------------------------------------------------


async def test_verified_customer_gets_their_order_status(stack: RunningStack, session: aiohttp.ClientSession) -> None:
    token = token_for(ALICE.id)
    reply = await say(session, stack, "rec-own-order", f"where is my order {ALICE_ORDER.number}?", token)
    text = joined(reply)
    assert ALICE_ORDER.number in text and str(ALICE_ORDER.tracking_number) in text, text
    assert str(ALICE_ORDER.carrier) in text


async def test_order_form_collects_the_number(stack: RunningStack, session: aiohttp.ClientSession) -> None:
    token = token_for(ALICE.id)
    asked = await say(session, stack, "rec-form", "where's my package?", token)
    assert "order number" in joined(asked).lower(), asked
    answered = await say(session, stack, "rec-form", f"it's #{ALICE_ORDER.number}", token)
    assert str(ALICE_ORDER.tracking_number) in joined(answered), answered


async def test_three_wrong_numbers_hand_over_to_a_person(stack: RunningStack, session: aiohttp.ClientSession) -> None:
    token = token_for(ALICE.id)
    await say(session, stack, "rec-tries", "track my order please", token)
    first = await say(session, stack, "rec-tries", NONEXISTENT_ORDER, token)
    assert "couldn't find an order" in joined(first)
    second = await say(session, stack, "rec-tries", "12345", token)
    assert "6 digits" in joined(second), second
    third = await say(session, stack, "rec-tries", NONEXISTENT_ORDER, token)
    assert third["handoff"] is not None and "person" in joined(third), third


async def test_warranty_and_bill(stack: RunningStack, session: aiohttp.ClientSession) -> None:
    token = token_for(ALICE.id)
    warranty = joined(await say(session, stack, "rec-warranty", "is my stuff still under warranty?", token))
    for device in (d for d in DATA.devices if d.customer_id == ALICE.id):
        assert device.serial in warranty, warranty
    bill = joined(await say(session, stack, "rec-bill", "when is my next bill?", token))
    subscription = next(s for s in DATA.subscriptions if s.customer_id == ALICE.id)
    assert f"{subscription.price_cents / 100:.2f}" in bill, bill
    invoices = sorted((i for i in DATA.invoices if i.customer_id == ALICE.id), key=lambda i: i.issued_on)
    if invoices:
        assert invoices[-1].number in bill, bill


@pytest.mark.browser
def test_verified_customer_in_the_widget(stack: RunningStack) -> None:
    """A shop page embeds the widget with a token it signed; the customer asks about order, bill, warranty."""
    require(
        Path("/usr/bin/chromium").exists(), "Chromium not installed at /usr/bin/chromium (apt-get install chromium)"
    )
    from playwright.sync_api import expect, sync_playwright

    token = token_for(ALICE.id)
    page_html = (
        "<!doctype html><html><body><h1>My account</h1>"
        f'<script src="{stack.gateway_url}/static/widget.js" data-gateway="{stack.gateway_url}" '
        f'data-customer-token="{token}" data-open="true" data-title="Nimbus"></script></body></html>'
    )
    with sync_playwright() as p:
        # A page fulfilled by the test counts as non-local for Chromium's local-network checks,
        # which would then block the widget's WebSocket to the loopback gateway.
        no_lna = "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests"
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", no_lna])
        try:
            page = browser.new_page()
            # The shop's page, served by the test on the gateway's origin.
            shop = f"{stack.gateway_url}/shop/account"
            page.route(shop, lambda route: route.fulfill(body=page_html, content_type="text/html"))
            page.goto(shop)
            page.fill("#nimbus-chat-input", f"where is my order {ALICE_ORDER.number}?")
            page.click("#nimbus-chat-send")
            answer = page.locator('.nc-msg[data-sender="bot"] .nc-text', has_text=str(ALICE_ORDER.tracking_number))
            expect(answer.first).to_be_visible(timeout=30_000)
            page.fill("#nimbus-chat-input", "what's my next bill?")
            page.click("#nimbus-chat-send")
            subscription = next(s for s in DATA.subscriptions if s.customer_id == ALICE.id)
            bill = page.locator('.nc-msg[data-sender="bot"] .nc-text', has_text=f"{subscription.price_cents / 100:.2f}")
            expect(bill.first).to_be_visible(timeout=30_000)
            page.fill("#nimbus-chat-input", "are my devices still under warranty?")
            page.click("#nimbus-chat-send")
            serial = next(d.serial for d in DATA.devices if d.customer_id == ALICE.id)
            warranty = page.locator('.nc-msg[data-sender="bot"] .nc-text', has_text=serial)
            expect(warranty.first).to_be_visible(timeout=30_000)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "widget-verified-customer.png"))
        finally:
            browser.close()


# -- attacks ---------------------------------------------------------------------------------


async def test_someone_elses_order_number_looks_like_a_nonexistent_one(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    bob = token_for(BOB.id)
    theirs = await say(session, stack, "rec-attack-1", f"where is order {ALICE_ORDER.number}", bob)
    missing = await say(session, stack, "rec-attack-2", f"where is order {NONEXISTENT_ORDER}", bob)
    assert joined(theirs) == joined(missing), (theirs, missing)
    assert ALICE_ORDER.number not in joined(theirs) and str(ALICE_ORDER.tracking_number) not in joined(theirs)


@pytest.mark.parametrize(
    "kind", ["forged", "expired", "unsigned", "garbage"], ids=["forged-signature", "expired", "alg-none", "garbage"]
)
async def test_bad_tokens_are_anonymous(kind: str, stack: RunningStack, session: aiohttp.ClientSession) -> None:
    token = {
        "forged": token_for(ALICE.id, secret="not-the-site-secret"),
        "expired": token_for(ALICE.id, ttl_s=-120),
        "unsigned": unsigned_token(ALICE.id),
        "garbage": "this.is.not-a-token",
    }[kind]
    reply = await say(session, stack, f"rec-token-{kind}", f"where is my order {ALICE_ORDER.number}", token)
    assert asks_to_verify(reply), reply
    assert str(ALICE_ORDER.tracking_number) not in joined(reply)


async def test_identity_never_comes_from_message_text_or_payload(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    entities = json.dumps({"customer_id": ALICE.id, "order_number": ALICE_ORDER.number}, separators=(",", ":"))
    payload = f"/order_status{entities}"
    reply = await say(session, stack, "rec-inject", payload)
    assert asks_to_verify(reply) and str(ALICE_ORDER.tracking_number) not in joined(reply), reply


async def test_linking_by_emailed_code_answers_the_pending_question_and_blocks_replay(
    stack: RunningStack, session: aiohttp.ClientSession, mailbox: MailSink
) -> None:
    chat = "rec-link"
    asked = await say(session, stack, chat, "what have i ordered recently?")
    assert asks_to_verify(asked), asked
    sent = await say(session, stack, chat, ALICE.email.upper())
    assert "6-digit code" in joined(sent), sent
    codes = mailbox.codes_for(ALICE.email)
    assert codes, "no code was mailed"
    code = codes[-1]
    assert code not in joined(sent)
    verified = await say(session, stack, chat, code)
    text = joined(verified)
    assert "verified" in text and ALICE_ORDER.number in text, text  # the pending question, answered
    again = await say(session, stack, chat, f"and order {ALICE_ORDER.number}?")
    assert str(ALICE_ORDER.tracking_number) in joined(again), again

    unlinked = await say(session, stack, chat, "unlink my account")
    assert "no longer linked" in joined(unlinked), unlinked
    await say(session, stack, chat, "verify me")
    await say(session, stack, chat, "nobody@nowhere.example")  # asks for a code; none is sent
    replayed = await say(session, stack, chat, code)
    assert "verified" not in joined(replayed), replayed
    after = await say(session, stack, chat, f"where is order {ALICE_ORDER.number}")
    assert str(ALICE_ORDER.tracking_number) not in joined(after), after


async def test_unknown_address_gets_the_same_reply_and_no_mail(
    stack: RunningStack, session: aiohttp.ClientSession, mailbox: MailSink
) -> None:
    await say(session, stack, "rec-unknown-1", "verify me")
    unknown = await say(session, stack, "rec-unknown-1", "no.such.customer@example.net")
    await say(session, stack, "rec-unknown-2", "verify me")
    known = await say(session, stack, "rec-unknown-2", BOB.email)
    assert joined(unknown) == joined(known)
    assert mailbox.codes_for("no.such.customer@example.net") == []


async def test_code_brute_force_locks_linking(
    stack: RunningStack, session: aiohttp.ClientSession, mailbox: MailSink
) -> None:
    chat = "rec-brute"
    await say(session, stack, chat, "verify me")
    await say(session, stack, chat, BOB.email)
    right = mailbox.codes_for(BOB.email)[-1]
    wrong = [f"{(int(right) + n) % 1_000_000:06d}" for n in range(1, 6)]
    replies = [joined(await say(session, stack, chat, guess)) for guess in wrong]
    assert "locks for 15 minutes: 4." in replies[0], replies
    assert "locked" in replies[-1], replies
    await say(session, stack, chat, "verify me")
    blocked = await say(session, stack, chat, BOB.email)
    assert "locked" in joined(blocked), blocked
    refused = await say(session, stack, chat, right)
    assert "verified" not in joined(refused), refused


# -- the records system down or slow ----------------------------------------------------------


class FaultyRecordsApi:
    """The reference records API behind a switch: normal, down (503) or slow."""

    def __init__(self, engine: Any, token: str) -> None:
        self.mode = "normal"
        inner = create_records_app(engine, token)

        @web.middleware
        async def faults(request: web.Request, handler: Any) -> web.StreamResponse:
            if self.mode == "down":
                return web.json_response({"error": {"code": "down", "message": "maintenance"}}, status=503)
            if self.mode == "slow":
                await asyncio.sleep(10)
            return await handler(request)

        inner.middlewares.append(faults)
        self.app = inner


@pytest.fixture(scope="module")
def records_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FaultyRecordsApi, int, Path]]:
    """A faulty records API on a free port, in its own thread, serving a seeded database."""
    from bot.db.migrate import upgrade
    from bot.db.seed import seed_database

    var_dir = tmp_path_factory.mktemp("records-var")
    url = load_settings({"BOT_VAR_DIR": str(var_dir), "BOT_ENV": "test"}).database_url
    upgrade(url)
    engine = create_db_engine(url)
    seed_database(engine, DATA)
    api = FaultyRecordsApi(engine, "records-token")
    try:
        with serve_in_thread(api.app) as port:
            yield api, port, var_dir
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def http_stack(
    tmp_path_factory: pytest.TempPathFactory, records_api: tuple[FaultyRecordsApi, int, Path], stack: RunningStack
) -> Iterator[tuple[RunningStack, FaultyRecordsApi]]:
    """A second stack whose records come from the faulty HTTP API (1 s per-request timeout)."""
    api, port, var_dir = records_api
    env = {
        "BOT_RECORDS_BACKEND": "http",
        "BOT_RECORDS_URL": f"http://127.0.0.1:{port}",
        "BOT_RECORDS_TOKEN": "records-token",
        "BOT_RECORDS_TIMEOUT": "1",
    }
    running = start_stack(var_dir, PROJECT_ROOT / "models", extra_env=env)
    try:
        yield running, api
    finally:
        assert running.stop() == 0, running.output()


async def test_records_over_http_then_down_then_slow(
    http_stack: tuple[RunningStack, FaultyRecordsApi], session: aiohttp.ClientSession
) -> None:
    running, api = http_stack
    token = token_for(ALICE.id)
    api.mode = "normal"
    normal = await say(session, running, "http-1", f"where is my order {ALICE_ORDER.number}", token)
    assert str(ALICE_ORDER.tracking_number) in joined(normal), normal

    api.mode = "down"
    down = await say(session, running, "http-2", f"where is my order {ALICE_ORDER.number}", token)
    assert "can't check your records right now" in joined(down), down
    assert "/request_human" in [b["payload"] for r in down["replies"] for b in r["buttons"]]

    api.mode = "slow"
    started = time.monotonic()
    slow = await say(session, running, "http-3", "what's my next bill?", token)
    elapsed = time.monotonic() - started
    assert "can't check your records right now" in joined(slow), slow
    print(f"slow records API: the bot answered in {elapsed:.2f} s")  # shown with pytest -s / -rP
    assert elapsed < 4.0, f"answered after {elapsed:.2f} s"

    api.mode = "normal"
    # After the breaker's reset the bot answers again; until then it fails fast and says so.
    recovered = await say(session, running, "http-4", "what have i ordered?", token)
    assert recovered["replies"], recovered


def test_slow_and_down_answers_never_crash_the_action_server(
    http_stack: tuple[RunningStack, FaultyRecordsApi],
) -> None:
    running, _ = http_stack
    log = (running.var_dir / "logs" / "actions.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


def test_accesses_are_audited_and_logs_hold_no_personal_data(stack: RunningStack, mailbox: MailSink) -> None:
    """Runs after the conversations above: their lookups are in the audit, their secrets nowhere in the logs."""
    import sqlalchemy as sa

    url = stack.database_url
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT customer_id, record_kind, channel, outcome FROM record_access_audit")
            ).all()
    finally:
        engine.dispose()
    assert (ALICE.id, "order", "direct", "found") in {tuple(row) for row in rows}, rows
    assert {row.record_kind for row in rows} >= {"order", "orders", "devices", "subscriptions", "invoices"}

    logs = "\n".join(path.read_text(errors="replace") for path in sorted((stack.var_dir / "logs").glob("*.log")))
    codes = mailbox.codes_for(ALICE.email) + mailbox.codes_for(BOB.email)
    assert codes
    for secret in (ALICE.email, BOB.email, "eyJ", E2E_IDENTITY_SECRET):
        assert secret.lower() not in logs.lower(), f"{secret!r} found in the logs"
    for code in codes:
        assert not re.search(rf"(?<!\d){code}(?!\d)", logs), f"code {code} found in the logs"
