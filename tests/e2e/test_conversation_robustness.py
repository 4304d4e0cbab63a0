"""Conversations as people have them (issue 16), on the real stack: questions in the middle of a
form or a guide are answered without losing the thread, "never mind" leaves, "I already restarted
it" is an answer, and starting over is confirmed first."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import sqlalchemy as sa

from bot.db.models import Order
from bot.diagnostics import load_guides
from bot.settings import PROJECT_ROOT
from tests.orders import add_customer, add_order
from tests.stack import DirectChat, RunningStack, buttons, reply_texts

pytestmark = pytest.mark.e2e

GUIDES = load_guides(PROJECT_ROOT / "data" / "diagnostics")
EMAIL_QUESTION = "What's the email address on your Nimbus account?"
PRICE = re.compile(r"€\s?\d+[.,]\d{2}")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


Chat = DirectChat


# -- forms -------------------------------------------------------------------------------------


async def test_a_question_while_verifying_is_answered_and_verification_goes_on(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    chat = Chat(session, stack, "robust-form-hours")
    assert EMAIL_QUESTION in await chat.say("where is my order?")
    answer = await chat.say("what are your opening hours?")
    assert "Monday–Friday" in answer  # the hours
    assert "Back to checking your account:" in answer and answer.endswith(EMAIL_QUESTION)
    assert "doesn't look like an email" not in answer
    # The form is still there: an address is taken as the answer.
    assert "If that address is on file, I've just emailed you a 6-digit code" in await chat.say(
        "nobody.here@example.org"
    )


async def test_why_do_you_need_my_email_is_explained_not_refused(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    chat = Chat(session, stack, "robust-form-why")
    assert EMAIL_QUESTION in await chat.say("where is my order?")
    answer = await chat.say("why do you need my email address?")
    assert "doesn't look like an email" not in answer
    assert "/help/data-we-keep" in answer, answer  # the help center's explanation
    assert "Back to checking your account:" in answer and answer.endswith(EMAIL_QUESTION)


async def test_never_mind_with_a_question_leaves_the_form_and_answers(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    chat = Chat(session, stack, "robust-form-nevermind")
    assert EMAIL_QUESTION in await chat.say("where is my order?")
    answer = await chat.say("never mind, how much is the Nimbus Mesh Duo BE5000?")
    assert PRICE.search(answer), answer
    assert "Back to" not in answer and EMAIL_QUESTION not in answer
    # No form any more: the next question is just answered.
    hours = await chat.say("what are your opening hours?")
    assert "Monday–Friday" in hours and EMAIL_QUESTION not in hours


async def test_a_question_at_a_confirmation_is_answered_and_the_request_goes_on(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    url = stack.database_url
    engine = sa.create_engine(url)
    try:
        customer, _ = add_customer(engine)
        number = add_order(engine, customer, "processing")
        chat = Chat(session, stack, "robust-form-confirm", customer)
        assert f"Cancel order {number}" in await chat.say(f"cancel order {number}")
        answer = await chat.say("how much is the velo ax3000?")
        assert PRICE.search(answer) and "Back to your request:" in answer
        assert f"Cancel order {number}" in answer  # asked again, with its buttons
        assert "is cancelled" in await chat.tap("Yes, go ahead")
        with engine.connect() as connection:
            status = connection.execute(sa.select(Order.status).where(Order.number == number)).scalar_one()
        assert status == "cancelled"
    finally:
        engine.dispose()


@pytest.fixture
def engine(stack: RunningStack) -> Iterator[sa.engine.Engine]:
    url = stack.database_url
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


async def test_it_after_an_order_status_is_that_order_and_a_correction_replaces_it(
    stack: RunningStack, session: aiohttp.ClientSession, engine: sa.engine.Engine
) -> None:
    customer, _ = add_customer(engine)
    shipped, processing = add_order(engine, customer, "shipped"), add_order(engine, customer, "processing")
    chat = Chat(session, stack, "robust-order-context", customer)
    assert f"Order {shipped}" in await chat.say(f"where is my order {shipped}?")
    refused = await chat.say("ok, can i still cancel it?")
    assert f"Order {shipped} has already shipped" in refused, refused  # never asked for the number again
    corrected = await chat.say(f"oh sorry, I meant {processing}")
    assert f"Cancel order {processing}" in corrected, corrected  # the same request, about the other order
    assert "left everything as it was" in await chat.tap("No, leave it")
    again = await chat.say("actually yes, please cancel it after all")
    assert f"Cancel order {processing}" in again, again


async def test_what_the_request_says_is_used_and_a_correction_at_the_confirmation_replaces_it(
    stack: RunningStack, session: aiohttp.ClientSession, engine: sa.engine.Engine
) -> None:
    customer, _ = add_customer(engine)
    delivered = add_order(engine, customer, "delivered", delivered_days_ago=3)
    processing, other = add_order(engine, customer, "processing"), add_order(engine, customer, "processing")
    chat = Chat(session, stack, "robust-request-context", customer)
    returned = await chat.say(f"I'd like to return order {delivered}, it arrived broken")
    assert f"Start a return for order {delivered}" in returned and "It's faulty or damaged" in returned, returned
    assert "left everything as it was" in await chat.tap("No, leave it")
    moved = await chat.say(f"please send order {processing} to Lindenstraße 12, 10969 Berlin instead")
    assert f"Send order {processing}" in moved and "Lindenstraße 12, 10969 Berlin" in moved, moved
    fixed = await chat.say("sorry, wrong postcode: Lindenstraße 12, 10967 Berlin")
    assert "Lindenstraße 12, 10967 Berlin" in fixed and "Please tap" not in fixed, fixed
    other_order = await chat.say(f"wait, wrong one, I meant {other}")
    assert f"Send order {other}" in other_order, other_order


async def test_a_corrected_email_while_verifying_gets_the_code(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    chat = Chat(session, stack, "robust-email-typo")
    assert EMAIL_QUESTION in await chat.say("where is my order?")
    assert "6-digit code" in await chat.say("anna.k@exmaple.org")
    corrected = await chat.say("oops typo, it's anna.k@example.org")
    assert "If that address is on file" in corrected and "type the 6-digit code" not in corrected, corrected


# -- guides ------------------------------------------------------------------------------------


async def test_i_already_restarted_the_router_is_an_answer_in_the_guide(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    tree = GUIDES["slow_speed"]
    chat = Chat(session, stack, "robust-guide-restarted")
    await chat.say("my internet has been really slow all evening")
    restart_step = await chat.tap("Cable is slow too")
    assert "Switch off your modem" in restart_step
    reply = await chat.say("I already restarted the router")
    assert "start over" not in reply.lower()
    # Still in the guide: either the next step, or this step asked again in other words.
    shown = {tree.node(node_id).text.strip() for node_id in ("restart", "wan_cable")}
    assert any(text in reply for text in shown), reply


async def test_a_price_question_in_the_wifi_guide_is_answered_and_the_step_asked_again(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    tree = GUIDES["wifi_drops"]
    question = tree.node("which_device").text.strip()
    chat = Chat(session, stack, "robust-guide-price")
    assert question in await chat.say("my wifi keeps cutting out every few minutes")
    answer = await chat.say("how much is the Nimbus Mesh Duo BE5000?")
    assert PRICE.search(answer), answer
    assert "Back to the troubleshooting:" in answer and reply_texts(chat.last)[-1] == question
    moved = await chat.tap("A router")  # only an answer to the step moves the guide
    assert tree.node("status_led").text.strip() in moved


# -- follow-ups ---------------------------------------------------------------------------------


async def test_an_elliptical_follow_up_asks_the_last_question_about_the_new_product(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    chat = Chat(session, stack, "robust-follow-up")
    assert "Velo AX3000 costs" in await chat.say("how much is the Nimbus Velo AX3000?")
    stock = await chat.say("is it in stock in Berlin?")
    assert "Berlin" in stock and "not sure" not in stock.lower()
    trio = await chat.say("and what about the mesh trio?")
    assert "Mesh Trio" in trio and "Berlin" in trio, trio  # the stock question, about the trio
    assert "costs" not in trio


async def test_a_correction_reuses_the_last_question(stack: RunningStack, session: aiohttp.ClientSession) -> None:
    chat = Chat(session, stack, "robust-correction")
    assert "costs" in await chat.say("how much is the Nimbus Reach AX1500?")
    corrected = await chat.say("sorry I meant the powerlink kit")
    options = buttons(chat.last)
    if "Which one do you mean?" in corrected:  # there are several PowerLink kits: the price of the one picked
        assert options and all("PowerLink" in title for title in options if title != "Talk to a person"), options
        corrected = await chat.tap(next(iter(options)))
    assert "PowerLink" in corrected and "costs" in corrected, corrected


# -- two requests in one message ---------------------------------------------------------------


async def test_the_second_request_of_a_message_is_offered_after_the_first(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    tree = GUIDES["wifi_drops"]
    chat = Chat(session, stack, "robust-two-requests")
    answer = await chat.say("hi, my wifi keeps dropping and also where is my order?")
    assert tree.node("which_device").text.strip() in answer  # the first request is served
    assert "You also asked: “where is my order?”" in answer
    later = await chat.tap("where is my order?")  # the second, when the customer wants it
    assert EMAIL_QUESTION in later  # the order question, asked to verify first


# -- starting over -----------------------------------------------------------------------------


async def test_starting_over_is_confirmed_with_a_button(stack: RunningStack, session: aiohttp.ClientSession) -> None:
    chat = Chat(session, stack, "robust-restart")
    await chat.say("hi there")
    asked = await chat.say("let's just start all over again")
    assert "Start the conversation over?" in asked
    assert "carry on" in await chat.tap("No, carry on")
    await chat.say("let's just start all over again")
    assert "Okay, let's start over" in await chat.tap("Yes, start over")
