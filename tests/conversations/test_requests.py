"""Two requests in one message: where to split, which part the model gets, which part is offered."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from bot.conversations.hub import ConversationHub
from bot.conversations.requests import (
    MIN_WORDS,
    Parsed,
    RequestPlan,
    button_title,
    is_question,
    plan_requests,
    split_requests,
)
from bot.conversations.service import ConversationService, CustomerMessage
from bot.conversations.store import ConversationStore
from bot.dialogue.rasa_client import PARSE_PATH, RasaClient
from bot.settings import PROJECT_ROOT
from bot.texts import load_texts
from tests.fakes.rasa import FakeRasa

# -- where a message splits --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            "hi, my wifi keeps dropping and also where is my order?",
            ("hi, my wifi keeps dropping", "where is my order?"),
        ),
        (
            "my router won't turn on. also how much is the mesh trio",
            ("my router won't turn on", "how much is the mesh trio"),
        ),
        (
            "can you check order 104873, by the way do you open on sunday",
            ("can you check order 104873", "do you open on sunday"),
        ),
        (
            "how much is the mesh satellite btw does it work with my velo?",
            ("how much is the mesh satellite", "does it work with my velo?"),
        ),
        (
            "where is my order 190232? by the way i want to unsubscribe from the newsletter",
            ("where is my order 190232", "i want to unsubscribe from the newsletter"),
        ),
        (
            "my internet is super slow. Also is the mesh duo in stock in Hamburg?",
            ("my internet is super slow", "is the mesh duo in stock in Hamburg?"),
        ),
        (
            "my wifi keeps cutting out. And also can you tell me the price of the mesh trio?",
            ("my wifi keeps cutting out", "can you tell me the price of the mesh trio?"),
        ),
        (
            "my firmware update failed plus my card payment got declined",
            ("my firmware update failed", "my card payment got declined"),
        ),
        (  # a bare "also" before a new clause
            "my wifi keeps dropping also where is my order",
            ("my wifi keeps dropping", "where is my order"),
        ),
        (  # "!" and ";" end a sentence too
            "my router has no power at all! where is my refund",
            ("my router has no power at all", "where is my refund"),
        ),
        (  # a greeting too short to be a part: the next join counts
            "hi. my wifi keeps dropping and also where is my order?",
            ("hi. my wifi keeps dropping", "where is my order?"),
        ),
        ("does the mesh duo work with the velo and the ax6000", None),  # "and" alone joins products, not requests
        ("does the mesh duo also work with the velo", None),  # "also" as an adverb
        ("my profile does that also change orders i already placed", None),
        ("is a router plus a range extender enough for my flat", None),  # "plus" between products
        ("please send it to Lindenstraße 12, 10969 Berlin", None),
        ("please send it to Hauptstr. 5, 10115 Berlin instead", None),  # an abbreviation, then a number
        ("can Dr. Weber at St. Pauli get my parcel instead", None),
        ("does the Nimbus 12 V / 3 A Power Supply fit the Nimbus 19 V / 3.42 A one", None),
        ("my order No. 190232 has not arrived yet", None),
        ("hi. where is my order", None),  # too short to be a request
        ("where is my order?", None),
    ],
)
def test_messages_are_split_at_request_connectors(text: str, parts: tuple[str, str] | None) -> None:
    assert split_requests(text) == parts


@given(st.text(max_size=300))
def test_a_split_keeps_two_parts_of_enough_words_from_the_message(text: str) -> None:
    parts = split_requests(text)
    if parts is not None:
        first, second = parts
        assert len(first.split()) >= MIN_WORDS and len(second.split()) >= MIN_WORDS
        assert first in text and second in text


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("do you have it in paris", True),
        ("is it in stock in munich?", True),
        ("what are your opening hours", True),
        ("I want to change my email address", False),
        ("my card payment got declined", False),
    ],
)
def test_questions_are_told_by_their_opening_word_or_question_mark(text: str, question: bool) -> None:
    assert is_question(text) is question


# -- which part the model gets, which part is offered -------------------------------------------

WIFI, ORDER = Parsed("problem_wifi_drops", 0.9), Parsed("order_status", 0.92)
NOT_SURE = Parsed("nlu_fallback", 0.45)


def plan(text: str, whole: Parsed, first: Parsed, second: Parsed) -> RequestPlan:
    parts = split_requests(text)
    assert parts is not None, text
    return plan_requests(text, parts, whole, first, second)


def test_two_confident_requests_are_served_in_order() -> None:
    text = "hi, my wifi keeps dropping and also where is my order?"
    assert plan(text, WIFI, WIFI, ORDER) == RequestPlan("hi, my wifi keeps dropping", "where is my order?", text)
    # The model would have served the second request first: the first still goes first.
    text = "where is my order 190232? by the way i want to unsubscribe from the newsletter"
    opt_out = Parsed("marketing_opt_out", 0.88)
    served = plan(text, opt_out, Parsed("order_status", 0.95), opt_out)
    assert served.serve == "where is my order 190232"
    assert served.offer == "i want to unsubscribe from the newsletter"
    assert served.split and served.whole == text


def test_a_message_the_model_does_not_understand_as_a_whole_is_served_from_its_first_part() -> None:
    text = "how much is the mesh trio? also what are your opening hours?"
    price, hours = Parsed("ask_product_price", 0.93), Parsed("ask_business_hours", 0.9)
    assert plan(text, NOT_SURE, price, hours) == RequestPlan(
        "how much is the mesh trio", "what are your opening hours?", text
    )
    text = "the payment for my order failed and also I want to change my email address"
    served = plan(text, Parsed("update_contact", 0.52), Parsed("problem_payment_failed", 0.86), NOT_SURE)
    assert served == RequestPlan("the payment for my order failed", None, text)  # nothing sure to offer


def test_a_follow_up_question_counts_with_less_confidence_or_the_whole_messages_intent() -> None:
    text = "what are the specs of the raptor gaming router? by the way do you have it in paris"
    specs = Parsed("ask_product_specs", 0.95)
    served = plan(text, specs, specs, Parsed("ask_product_availability", 0.58))
    assert (served.serve, served.offer) == ("what are the specs of the raptor gaming router", "do you have it in paris")
    # "is it in stock in munich?" is not sure alone, but the whole message reads as it.
    text = "how much is the ax6000 pro and also is it in stock in munich?"
    stock = Parsed("ask_product_availability", 0.81)
    served = plan(text, stock, Parsed("ask_product_price", 0.9), Parsed("ask_product_availability", 0.41))
    assert (served.serve, served.offer) == ("how much is the ax6000 pro", "is it in stock in munich?")
    # A statement needs the full confidence.
    text = "my firmware update failed plus my card payment got declined"
    firmware = Parsed("problem_firmware_update", 0.9)
    served = plan(text, firmware, firmware, Parsed("problem_payment_failed", 0.58))
    assert served == RequestPlan(text, None, text)


def test_one_request_told_in_two_parts_goes_to_the_model_whole() -> None:
    for text, second in [
        ("my wifi keeps dropping and also it is slow", Parsed("problem_slow_speed", 0.8)),
        ("my wifi keeps dropping. it started yesterday after the thunderstorm", Parsed("problem_no_power", 0.75)),
        ("my wifi keeps dropping. my wifi is so bad at the moment", WIFI),
    ]:
        assert plan(text, WIFI, WIFI, second) == RequestPlan(text, None, text), text
    # Not even the whole message is sure, but a statement going on about the first part is no request.
    text = "my wifi keeps dropping and also it is slow"
    assert plan(text, NOT_SURE, WIFI, Parsed("problem_slow_speed", 0.8)) == RequestPlan(
        "my wifi keeps dropping", None, text
    )


def test_a_first_part_that_is_no_request_leaves_the_message_whole() -> None:
    text = "Good morning to you all. where is my order?"
    assert plan(text, ORDER, Parsed("greet", 0.97), ORDER) == RequestPlan(text, None, text)
    assert plan(text, NOT_SURE, Parsed("greet", 0.97), ORDER) == RequestPlan(text, None, text)
    # The first part is the model's reading of the whole, only not sure alone: the whole is
    # served and the second, another request, offered.
    text = "hey so my wifi keeps dropping all the time and also where is my parcel?"
    served = plan(text, WIFI, Parsed("problem_wifi_drops", 0.62), ORDER)
    assert served == RequestPlan(text, "where is my parcel?", text)
    # The first part is not sure and the whole reads as the second: nothing is offered.
    assert plan(text, ORDER, Parsed("problem_wifi_drops", 0.62), ORDER) == RequestPlan(text, None, text)


def test_the_metadata_keeps_the_whole_message_when_the_model_gets_a_part() -> None:
    text = "how much is the mesh trio? also what are your opening hours?"
    split = RequestPlan("how much is the mesh trio", "what are your opening hours?", text)
    assert split.metadata() == {"whole_message": text, "second_request": "what are your opening hours?"}
    assert RequestPlan(text, None, text).metadata() == {}
    assert RequestPlan("hi").metadata() == {} and not RequestPlan("hi").split


def test_button_titles_are_short() -> None:
    assert button_title("where is my order?") == "where is my order?"
    long = "could you please also tell me when the parcel with my new mesh duo kit is going to arrive here"
    title = button_title(long)
    assert len(title) <= 60 and title.endswith("…") and long.startswith(title[:-1])


# -- through the conversation service, against a fake Rasa --------------------------------------


@dataclass
class ParsingRasa(FakeRasa):
    """The fake Rasa with a scripted ``/model/parse``: each text's (intent, confidence)."""

    readings: dict[str, tuple[str, float]] = field(default_factory=dict)
    parsed: list[str] = field(default_factory=list)
    parse_fails: bool = False

    def app(self) -> web.Application:
        app = super().app()

        async def parse(request: web.Request) -> web.Response:
            if request.query.get("token") != self.token:
                return web.json_response({"status": "failure"}, status=401)
            if self.parse_fails:
                return web.Response(status=500, text="boom")
            text = (await request.json())["text"]
            self.parsed.append(text)
            name, confidence = self.readings.get(text, ("nlu_fallback", 0.45))
            return web.json_response({"text": text, "intent": {"name": name, "confidence": confidence}})

        app.router.add_post(PARSE_PATH, parse)
        return app


@pytest.fixture
async def rasa() -> AsyncIterator[tuple[ParsingRasa, RasaClient]]:
    fake = ParsingRasa(token="rasa-token", channel_secret="channel-secret")
    server = TestServer(fake.app(), host="127.0.0.1", port=0)
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        client = RasaClient(
            session=session,
            base_url=f"http://127.0.0.1:{server.port}",
            token="rasa-token",
            channel_secret="channel-secret",
            timeout_s=5,
        )
        try:
            yield fake, client
        finally:
            await server.close()


@pytest.fixture
def service(migrated_engine: Engine, rasa: tuple[ParsingRasa, RasaClient]) -> Iterator[ConversationService]:
    yield ConversationService(
        store=ConversationStore(migrated_engine),
        hub=ConversationHub(),
        dialogue=rasa[1],
        texts=load_texts(PROJECT_ROOT / "data" / "texts.yml"),
    )


async def test_the_model_gets_the_first_request_and_the_second_is_offered(
    service: ConversationService, rasa: tuple[ParsingRasa, RasaClient]
) -> None:
    fake, _ = rasa
    text = "how much is the mesh trio? also what are your opening hours?"
    fake.readings = {
        text: ("nlu_fallback", 0.45),
        "how much is the mesh trio": ("ask_product_price", 0.93),
        "what are your opening hours?": ("ask_business_hours", 0.9),
    }
    turn = await service.handle(CustomerMessage("c-two", "web", text, client_id="t1"))

    assert sorted(fake.parsed) == sorted(fake.readings)  # the whole and each part, once
    assert [body["message"] for body in fake.received] == ["how much is the mesh trio"]
    metadata = fake.received[0]["metadata"]
    assert metadata["turn"] == "t1" and metadata["whole_message"] == text  # nothing lost for the tracker
    assert turn.customer_message.text == text  # the transcript keeps what the customer wrote
    answer, offer = turn.replies
    assert answer.text == "you said: how much is the mesh trio"
    assert offer.text.startswith("You also asked: “what are your opening hours?”. I'll come back to it")
    assert [(b.title, b.payload) for b in offer.buttons] == [
        ("what are your opening hours?", "what are your opening hours?")
    ]

    tapped = await service.handle(
        CustomerMessage("c-two", "web", "what are your opening hours?", payload="what are your opening hours?")
    )
    assert fake.received[-1]["message"] == "what are your opening hours?"
    assert len(fake.parsed) == 3 and [r.text for r in tapped.replies] == ["you said: what are your opening hours?"]


async def test_one_request_in_two_parts_goes_whole_and_a_message_without_a_join_is_not_parsed(
    service: ConversationService, rasa: tuple[ParsingRasa, RasaClient]
) -> None:
    fake, _ = rasa
    text = "my wifi keeps dropping and also it is slow"
    fake.readings = {
        text: ("problem_wifi_drops", 0.91),
        "my wifi keeps dropping": ("problem_wifi_drops", 0.95),
        "it is slow": ("problem_slow_speed", 0.8),
    }
    turn = await service.handle(CustomerMessage("c-one", "web", text))
    assert [body["message"] for body in fake.received] == [text]
    assert "whole_message" not in fake.received[0]["metadata"]
    assert [r.text for r in turn.replies] == [f"you said: {text}"]

    await service.handle(CustomerMessage("c-one", "web", "where is my order 190232"))
    assert len(fake.parsed) == 3 and fake.received[-1]["message"] == "where is my order 190232"


async def test_when_parsing_fails_the_message_goes_whole_without_an_offer(
    service: ConversationService, rasa: tuple[ParsingRasa, RasaClient]
) -> None:
    fake, _ = rasa
    fake.parse_fails = True
    text = "how much is the mesh trio? also what are your opening hours?"
    turn = await service.handle(CustomerMessage("c-down", "web", text))
    assert [body["message"] for body in fake.received] == [text]
    assert [r.text for r in turn.replies] == [f"you said: {text}"]
