"""actions/welcome.py: the greeting, and what a returning verified customer hears of first."""

from __future__ import annotations

import datetime as dt

from rasa_sdk import Tracker
from sqlalchemy.orm import Session

from actions.diagnostics import ActionDiagnosticStop
from actions.services import Services
from actions.welcome import ActionGreet
from bot.db.models import Conversation, Handoff, HandoffStatus
from bot.diagnostics import DiagnosticTree
from bot.handoff.requests import HandoffRequests
from tests.actions.helpers import guide_state, identity, make_tracker, resolve_handoff, run, said

Guides = dict[str, DiagnosticTree]
CUSTOMER = "C1004"  # data/records/customers.csv
ROUTER = ("which_device", "A router")
BACK_TO_WIFI = ("Back to: Wi-Fi keeps dropping", '/resume_diagnostic{"guide":"wifi_drops"}')


def hello_on_telegram(customer_id: str | None = CUSTOMER) -> Tracker:
    meta = identity(customer_id, "5550101", "telegram", conversation="telegram-5550101")
    return make_tracker("hi", "greet", metadata=meta, sender_id="telegram-5550101")


async def pause_on_the_widget(guides: Guides, guide: str, node: str, path: list[tuple[str, str]]) -> None:
    running = guide_state(guides, guide, node, path)
    tracker = make_tracker("stop", "stop", customer_id=CUSTOMER, sender_id="web-1a2b", slots={"diag_active": running})
    await run(ActionDiagnosticStop(), tracker)


def open_requests(services: Services) -> tuple[int, int]:
    """A resolved and an open request of the customer on the widget, a claimed one on Telegram: (open, claimed)."""
    with Session(services.engine) as session, session.begin():
        session.add_all(
            [
                Conversation(id="web-earlier", channel="web", customer_id=CUSTOMER),
                Conversation(id="telegram-chat", channel="telegram", customer_id=CUSTOMER),
            ]
        )
    requests = HandoffRequests(services.engine)
    done, _ = requests.request("web-earlier", "customer_request", {})
    resolve_handoff(services.engine, done.id, dt.datetime(2026, 11, 20, 10))
    first, _ = requests.request("web-earlier", "form_failed", {})
    second, _ = requests.request("telegram-chat", "low_confidence", {})
    with Session(services.engine) as session, session.begin():
        claimed = session.get(Handoff, second.id)
        assert claimed is not None
        claimed.status = HandoffStatus.CLAIMED
    return first.id, second.id


def test_name_matches_the_domain() -> None:
    assert ActionGreet().name() == "action_greet"


async def test_an_anonymous_customer_gets_the_usual_greeting(services: Services) -> None:
    assert await run(ActionGreet(), hello_on_telegram(customer_id=None)) == ([], [said("utter_greet")])


async def test_a_verified_customer_with_nothing_open_gets_the_usual_greeting(services: Services) -> None:
    assert await run(ActionGreet(), hello_on_telegram()) == ([], [said("utter_greet")])


async def test_a_paused_guide_is_offered_at_the_greeting_on_another_channel(services: Services, guides: Guides) -> None:
    await pause_on_the_widget(guides, "wifi_drops", "status_led", [ROUTER])

    events, messages = await run(ActionGreet(), hello_on_telegram())

    assert events == []
    assert messages == [said("utter_welcome_back_guide", buttons=[BACK_TO_WIFI], guide="Wi-Fi keeps dropping")]


async def test_the_newest_open_request_comes_first_then_every_paused_guide(services: Services, guides: Guides) -> None:
    _, claimed = open_requests(services)
    await pause_on_the_widget(guides, "wifi_drops", "status_led", [ROUTER])
    await pause_on_the_widget(guides, "login", guides["login"].start, [])

    _, messages = await run(ActionGreet(), hello_on_telegram())

    back_to_login = (f"Back to: {guides['login'].title}", '/resume_diagnostic{"guide":"login"}')
    assert messages == [
        said("utter_welcome_back_request_claimed", number=str(claimed), reason="low confidence"),
        said(
            "utter_offer_saved_guide",
            buttons=[back_to_login, BACK_TO_WIFI],
            guide=guides["login"].title,
        ),
    ]


async def test_an_open_request_alone(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        session.add(Conversation(id="web-earlier", channel="web", customer_id=CUSTOMER))
    ref, _ = HandoffRequests(services.engine).request("web-earlier", "customer_request", {})

    _, messages = await run(ActionGreet(), hello_on_telegram())

    assert messages == [said("utter_welcome_back_request", number=str(ref.id), reason="customer request")]


async def test_the_guide_running_here_is_not_offered(services: Services, guides: Guides) -> None:
    await pause_on_the_widget(guides, "wifi_drops", "status_led", [ROUTER])
    running = guide_state(guides, "wifi_drops", "status_led", [ROUTER])
    meta = identity(CUSTOMER, "5550101", "telegram", conversation="telegram-5550101")
    tracker = make_tracker("hi", "greet", metadata=meta, sender_id="telegram-5550101", slots={"diag_active": running})

    assert await run(ActionGreet(), tracker) == ([], [said("utter_greet")])
