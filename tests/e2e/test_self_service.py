"""Self-service on the real stack: each request's happy path, its refusal, a repeated confirmation
and an anonymous customer asked to verify first, checked in the database the records backend changed.

Each test makes its own customer and orders (dated relative to today) in the stack's database,
so no demo customer is changed and return windows are real.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.db.models import Customer, Order, RecordAccess, Refund, ReturnRequest, ServiceRequest
from bot.identity.tokens import mint_customer_token
from bot.records.policy import load_policy
from bot.settings import PROJECT_ROOT
from tests.mail import MailSink
from tests.orders import add_customer, add_order
from tests.services import require
from tests.stack import E2E_IDENTITY_SECRET, DirectChat, RunningStack, buttons, joined

pytestmark = pytest.mark.e2e

POLICY = load_policy(PROJECT_ROOT / "data")
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"


@pytest.fixture(scope="module")
def engine(stack: RunningStack) -> Iterator[Engine]:
    url = stack.database_url
    created = sa.create_engine(url)
    try:
        yield created
    finally:
        created.dispose()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


Chat = DirectChat


def value(engine: Engine, column: sa.Column, where: sa.ColumnElement[bool]) -> object:
    with engine.connect() as connection:
        return connection.execute(sa.select(column).where(where)).scalar_one_or_none()


def count(engine: Engine, model: type, where: sa.ColumnElement[bool]) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(model).where(where)).scalar_one())


def asks_to_verify(text: str) -> bool:
    return "make sure it's you" in text and "email address" in text


# -- anonymous customers verify first --------------------------------------------------------


@pytest.mark.parametrize(
    "request_text",
    [
        "cancel my order please",
        "i want to return the router i bought",
        "i need to change the delivery address on my order",
        "where is my refund?",
        "i want to change the email on my account",
        "unsubscribe me from your newsletter",
        "please delete my account",
    ],
)
async def test_an_anonymous_customer_is_asked_to_verify_first(
    request_text: str, stack: RunningStack, session: aiohttp.ClientSession, engine: Engine
) -> None:
    before = count(engine, ServiceRequest, sa.true())
    chat = Chat(session, stack, f"ss-anon-{abs(hash(request_text))}", None)
    assert asks_to_verify(await chat.say(request_text))
    assert "What's the email address on your Nimbus account?" in joined(chat.last)
    assert count(engine, ServiceRequest, sa.true()) == before


async def test_after_verifying_the_request_goes_on(
    stack: RunningStack, session: aiohttp.ClientSession, engine: Engine, mailbox: MailSink
) -> None:
    customer, email = add_customer(engine)
    number = add_order(engine, customer, "processing")
    chat = Chat(session, stack, "ss-anon-then-verified", None)
    assert asks_to_verify(await chat.say(f"cancel order {number} please"))
    await chat.say(email)
    after = await chat.say(mailbox.codes_for(email)[-1])
    # The request continues where it started, with the order number given before verifying.
    assert f"Cancel order {number}" in after and "Which order is it?" not in after
    done = await chat.tap("Yes, go ahead")
    assert "is cancelled" in done and "How did I do?" in done, done  # one rating of the bot's own help
    assert "didn't quite get that" not in done and "not sure I understood" not in done, done
    assert value(engine, Order.status, Order.number == number) == "cancelled"
    assert "Thanks for the rating" in await chat.tap("4")


# -- cancel ----------------------------------------------------------------------------------


async def test_cancel_an_unshipped_order_once_and_refuse_a_shipped_one(
    stack: RunningStack, session: aiohttp.ClientSession, engine: Engine
) -> None:
    customer, _ = add_customer(engine)
    number = add_order(engine, customer, "processing", method="paypal")
    chat = Chat(session, stack, "ss-cancel", customer)
    question = await chat.say(f"please cancel order {number}")
    assert f"Cancel order {number}" in question and "€129.99" in question
    yes = chat.button("Yes, go ahead")
    done = await chat.say(yes)
    assert f"order {number} is cancelled" in done
    assert "€129.99 goes back to your PayPal" in done and POLICY.refund_time("paypal").text in done
    assert value(engine, Order.status, Order.number == number) == "cancelled"

    again = await chat.say(yes)  # the same button tapped again
    assert "already taken care of" in again
    assert count(engine, Refund, Refund.order_number == number) == 1
    assert count(engine, ServiceRequest, ServiceRequest.customer_id == customer) == 1
    with engine.connect() as connection:
        audit = connection.execute(
            sa.select(RecordAccess.record_kind, RecordAccess.outcome)
            .where(RecordAccess.customer_id == customer, RecordAccess.record_kind == "cancel_order")
            .order_by(RecordAccess.id)
        ).all()
    assert [tuple(row) for row in audit] == [("cancel_order", "done"), ("cancel_order", "repeated")]

    shipped = add_order(engine, customer, "shipped")
    refused = await chat.say(f"cancel order {shipped}")
    assert f"Order {shipped} has already shipped" in refused and "can't be cancelled" in refused
    assert "Yes, go ahead" not in buttons(chat.last)
    assert value(engine, Order.status, Order.number == shipped) == "shipped"


async def test_no_at_the_confirmation_changes_nothing(
    stack: RunningStack, session: aiohttp.ClientSession, engine: Engine
) -> None:
    customer, _ = add_customer(engine)
    number = add_order(engine, customer, "processing")
    chat = Chat(session, stack, "ss-cancel-no", customer)
    await chat.say("i'd like to cancel my order")
    assert "Which order is it?" in joined(chat.last)
    await chat.say(number)
    assert await chat.tap("No, leave it") == "Okay, I've left everything as it was. Anything else I can help with?"
    assert value(engine, Order.status, Order.number == number) == "processing"


# -- return ----------------------------------------------------------------------------------


async def test_a_return_gets_an_rma_and_a_printable_label_and_late_ones_are_refused(
    stack: RunningStack, session: aiohttp.ClientSession, engine: Engine
) -> None:
    customer, _ = add_customer(engine, country="FR")
    number = add_order(engine, customer, "delivered", delivered_days_ago=4, method="card")
    chat = Chat(session, stack, "ss-return", customer)
    asked = await chat.say(f"i want to send back order {number}")
    assert "Why are you sending it back?" in asked
    confirm = await chat.tap("It's faulty or damaged")
    assert f"Start a return for order {number}" in confirm and "It's faulty or damaged" in confirm
    yes = chat.button("Yes, go ahead")
    done = await chat.say(yes)
    rma = re.search(r"Return number \(RMA\): (R[A-Z0-9]{9})", done)
    assert rma is not None, done
    assert "€129.99 goes back to your card" in done  # faulty: free return label even from France
    label_url = re.search(r"Your return label: http://\S+?(/returns/\S+)", done)
    assert label_url is not None and label_url.group(1) == f"/returns/{rma.group(1)}/label"
    async with session.get(stack.gateway_url + label_url.group(1)) as response:
        page = await response.text()
        assert response.status == 200 and rma.group(1) in page and response.headers["Cache-Control"] == "no-store"
    async with session.get(f"{stack.gateway_url}/returns/RAAAAAAAAA/label") as response:
        assert response.status == 404

    assert "already taken care of" in await chat.say(yes)
    assert count(engine, ReturnRequest, ReturnRequest.order_number == number) == 1

    refund = await chat.say(f"where is my refund for order {number}")
    assert f"Your return of order {number} is on its way to us" in refund

    late = add_order(engine, customer, "delivered", delivered_days_ago=POLICY.return_window_days + 5)
    refused = await chat.say(f"i want to return order {late}")
    assert f"The return window for order {late} ended on" in refused
    assert "Talk to a person" in buttons(chat.last)
    assert count(engine, ReturnRequest, ReturnRequest.order_number == late) == 0


# -- delivery address ------------------------------------------------------------------------


async def test_change_the_delivery_address_of_an_unshipped_order(
    stack: RunningStack, session: aiohttp.ClientSession, engine: Engine
) -> None:
    customer, _ = add_customer(engine)
    number = add_order(engine, customer, "processing")
    chat = Chat(session, stack, "ss-address", customer)
    assert "What's the new delivery address?" in await chat.say(f"change the delivery address for order {number}")
    assert "I need the whole address" in await chat.say("my office")
    confirm = await chat.say("Herengracht 182, 1016 BR Amsterdam")
    assert f"Send order {number}" in confirm and "Herengracht 182, 1016 BR Amsterdam" in confirm
    yes = chat.button("Yes, go ahead")
    assert f"order {number} will be delivered to the new address" in await chat.say(yes)
    assert value(engine, Order.shipping_address, Order.number == number) == "Herengracht 182, 1016 BR Amsterdam"
    assert "already taken care of" in await chat.say(yes)

    shipped = add_order(engine, customer, "shipped")
    refused = await chat.say(f"please change the shipping address of order {shipped}")
    assert f"Order {shipped} has already left our warehouse" in refused
    assert value(engine, Order.shipping_address, Order.number == shipped) == "Old Street 1, 1000 AA Amsterdam"


# -- refund status ---------------------------------------------------------------------------


async def test_refund_status_of_a_cancelled_order_and_of_an_order_without_one(
    stack: RunningStack, session: aiohttp.ClientSession, engine: Engine
) -> None:
    customer, _ = add_customer(engine)
    number = add_order(engine, customer, "processing", method="klarna")
    chat = Chat(session, stack, "ss-refund", customer)
    await chat.say(f"cancel order {number}")
    await chat.tap("Yes, go ahead")
    status = await chat.say("where's my refund?")
    assert "Which order is it?" in status
    answer = await chat.say(number)
    assert f"Your refund of €129.99 for order {number} is on its way to your Klarna" in answer
    other = add_order(engine, customer, "shipped")
    assert f"Order {other} is shipped and there's no refund for it" in await chat.say(
        f"has the refund for {other} been processed"
    )
    someone_else = add_order(engine, add_customer(engine)[0], "cancelled")
    assert "I couldn't find an order with that number on your account" in await chat.say(
        f"where is the refund for order {someone_else}"
    )


# -- contact details -------------------------------------------------------------------------


async def test_a_new_email_is_verified_by_a_code_before_it_is_set(
    stack: RunningStack, session: aiohttp.ClientSession, engine: Engine, mailbox: MailSink
) -> None:
    customer, email = add_customer(engine)
    _, taken = add_customer(engine)
    chat = Chat(session, stack, "ss-email", customer)
    new = f"new.{customer.lower()}@example.net"
    sent = await chat.say(f"please change my email to {new}")
    assert "I've sent a 6-digit code to n•••@example.net" in sent
    codes = mailbox.codes_for(new)
    assert len(codes) == 1
    wrong = "000000" if codes[0] != "000000" else "111111"
    assert "That code doesn't match" in await chat.say(wrong)
    confirm = await chat.say(codes[0])
    assert "Change the email address on your account" in confirm
    assert value(engine, Customer.email, Customer.id == customer) == email  # not before the Yes
    yes = chat.button("Yes, go ahead")
    assert "your account has the new contact details" in await chat.say(yes)
    assert value(engine, Customer.email, Customer.id == customer) == new
    assert "already taken care of" in await chat.say(yes)
    assert value(engine, Customer.email, Customer.id == customer) == new

    # Someone else's address: the code proves the mailbox, the record system still refuses it.
    await chat.say(f"update my email address to {taken}")
    await chat.say(mailbox.codes_for(taken)[-1])
    refused = await chat.tap("Yes, go ahead")
    assert "That email address can't be used for your account" in refused
    assert value(engine, Customer.email, Customer.id == customer) == new


async def test_a_new_phone_number_gets_its_code_by_sms(
    stack: RunningStack, session: aiohttp.ClientSession, engine: Engine
) -> None:
    customer, _ = add_customer(engine)
    chat = Chat(session, stack, "ss-phone", customer)
    assert "I can change the email address or phone number" in await chat.say("i got a new mobile number")
    sent = await chat.say("+31 6 2345 6789")
    assert "I've sent a 6-digit code by SMS to •••6789" in sent
    sms = sorted((Path(stack.var_dir) / "sms").glob("*.sms"))
    texts = [path.read_text(encoding="utf-8") for path in sms if "+31623456789" in path.read_text(encoding="utf-8")]
    code = re.search(r"code is (\d{6})", texts[-1])
    assert code is not None
    await chat.say(code.group(1))
    assert "your account has the new contact details" in await chat.tap("Yes, go ahead")
    assert value(engine, Customer.phone, Customer.id == customer) == "+31623456789"


# -- marketing and deletion ------------------------------------------------------------------


async def test_marketing_opt_out_once(stack: RunningStack, session: aiohttp.ClientSession, engine: Engine) -> None:
    customer, _ = add_customer(engine)
    chat = Chat(session, stack, "ss-optout", customer)
    await chat.say("i don't want your newsletter anymore")
    assert "Okay, I've left everything as it was" in await chat.tap("No, leave it")
    assert value(engine, Customer.marketing_opt_in, Customer.id == customer) in (True, 1)
    assert "Unsubscribe you from all our marketing emails" in await chat.say("stop sending me promo emails")
    yes = chat.button("Yes, go ahead")
    assert "you won't get marketing emails or SMS from us any more" in await chat.say(yes)
    assert value(engine, Customer.marketing_opt_in, Customer.id == customer) in (False, 0)
    assert "already taken care of" in await chat.say(yes)
    await chat.say("unsubscribe me from the newsletter")
    assert "You're already unsubscribed" in await chat.tap("Yes, go ahead")
    assert count(engine, ServiceRequest, ServiceRequest.customer_id == customer) == 2  # a "No" records nothing


async def test_account_deletion_becomes_a_privacy_request(
    stack: RunningStack, session: aiohttp.ClientSession, engine: Engine
) -> None:
    customer, _ = add_customer(engine)
    chat = Chat(session, stack, "ss-delete", customer)
    confirm = await chat.say("I want to delete my account")
    assert "Ask our privacy team to delete your Nimbus account?" in confirm and "This can't be undone" in confirm
    assert await chat.tap("No, leave it") == "Okay, I've left everything as it was. Anything else I can help with?"
    assert count(engine, ServiceRequest, ServiceRequest.customer_id == customer) == 0
    await chat.say("please close my account")
    yes = chat.button("Yes, go ahead")
    done = await chat.say(yes)
    reference = re.search(r"reference (P\d{8})", done)
    assert reference is not None and f"within {POLICY.deletion_days} days" in done
    assert "already taken care of" in await chat.say(yes)
    rows = count(
        engine,
        ServiceRequest,
        sa.and_(ServiceRequest.customer_id == customer, ServiceRequest.outcome == "pending"),
    )
    assert rows == 1
    # The customer still exists: an agent completes the request with `customers erase`.
    assert value(engine, Customer.id, Customer.id == customer) == customer


# -- in the widget ---------------------------------------------------------------------------


def test_a_return_in_the_widget_with_its_label(stack: RunningStack, engine: Engine) -> None:
    """In headless Chromium: a signed-in shop customer starts a return with the buttons and opens the label."""
    require(
        Path("/usr/bin/chromium").exists(), "Chromium not installed at /usr/bin/chromium (apt-get install chromium)"
    )
    from playwright.sync_api import expect, sync_playwright

    customer, _ = add_customer(engine)
    number = add_order(engine, customer, "delivered", delivered_days_ago=3)
    token = mint_customer_token(customer, E2E_IDENTITY_SECRET, ttl_s=900)
    page_html = (
        '<!doctype html><html><head><meta charset="utf-8"></head><body><h1>My orders</h1>'
        f'<script src="{stack.gateway_url}/static/widget.js" data-gateway="{stack.gateway_url}" '
        f'data-customer-token="{token}" data-open="true" data-title="Nimbus"></script></body></html>'
    )
    with sync_playwright() as p:
        no_lna = "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests"
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", no_lna])
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 1000})
            page = context.new_page()
            shop = f"{stack.gateway_url}/shop/orders"
            page.route(shop, lambda route: route.fulfill(body=page_html, content_type="text/html"))
            page.goto(shop)
            page.fill("#nimbus-chat-input", f"I'd like to return order {number}")
            page.click("#nimbus-chat-send")
            enabled = page.locator(".nc-button:not([disabled])")
            faulty = enabled.get_by_text("It's faulty or damaged", exact=True)
            expect(faulty.last).to_be_visible(timeout=30_000)
            faulty.last.click()
            yes = enabled.get_by_text("Yes, go ahead", exact=True)
            expect(yes.last).to_be_visible(timeout=30_000)
            yes.last.click()
            done = page.locator('.nc-msg[data-sender="bot"] .nc-text', has_text="Return number (RMA)")
            expect(done.last).to_be_visible(timeout=30_000)
            rma = re.search(r"R[A-Z0-9]{9}", done.last.inner_text())
            assert rma is not None
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "self-service-return.png"), full_page=True)
            with context.expect_page() as opened:
                done.last.locator(f'a[href$="/returns/{rma.group(0)}/label"]').click()
            label = opened.value
            label.wait_for_load_state()
            expect(label.locator(".rma")).to_have_text(rma.group(0))
            label.screenshot(path=str(ARTIFACTS / "self-service-return-label.png"), full_page=True)
        finally:
            browser.close()
    assert count(engine, ReturnRequest, ReturnRequest.order_number == number) == 1
