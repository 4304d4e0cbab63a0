"""actions/saved_guides.py: a verified customer's paused guide, left on one channel, resumed on another.

Each conversation is a tracker of its own (a web widget, a Telegram chat); only the database
(the ``customer_guides`` table) joins them, as in production.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rasa_sdk.events import SlotSet
from sqlalchemy import select

from actions.diagnostics import (
    ActionDiagnosticResume,
    ActionDiagnosticStart,
    ActionDiagnosticStep,
    ActionDiagnosticStop,
)
from actions.handoff import ActionRequestHuman
from actions.services import Services
from bot.db.models import CustomerGuide
from bot.diagnostics import DiagnosticTree
from tests.actions.helpers import (
    guide_state,
    identity,
    make_tracker,
    paused_entry,
    run,
    said,
    step_message,
)

Guides = dict[str, DiagnosticTree]
CUSTOMER = "C1004"  # data/records/customers.csv
WIDGET = "web-3c9e1f"
TELEGRAM = "telegram-5550101"
ROUTER = ("which_device", "A router")
WIFI_TITLE = "Wi-Fi keeps dropping"
BACK_TO_WIFI = ("Back to: Wi-Fi keeps dropping", '/resume_diagnostic{"guide":"wifi_drops"}')


def on_widget(text: str, intent: str, customer_id: str | None = CUSTOMER, **kwargs: Any) -> Any:
    """A message in the web widget's conversation (a customer token verified the customer)."""
    return make_tracker(text, intent, customer_id=customer_id, sender_id=WIDGET, **kwargs)


def on_telegram(text: str, intent: str, customer_id: str | None = CUSTOMER, **kwargs: Any) -> Any:
    """A message in a Telegram chat linked to the customer (a new conversation, slots empty unless given)."""
    meta = identity(customer_id, "5550101", "telegram", conversation=TELEGRAM)
    return make_tracker(text, intent, metadata=meta, sender_id=TELEGRAM, **kwargs)


def saved_rows(services: Services) -> list[tuple[str, str, str, str, str]]:
    """(customer, guide, step, channel, conversation) of every saved guide."""
    table = CustomerGuide.__table__
    with services.engine.connect() as connection:
        rows = connection.execute(select(table).order_by(table.c.customer_id, table.c.guide_id)).all()
    return [(r.customer_id, r.guide_id, r.state["node"], r.channel, r.conversation_id) for r in rows]


async def pause_wifi_on_the_widget(guides: Guides, customer_id: str | None = CUSTOMER) -> list[dict[str, Any]]:
    """Stop the wifi guide at the status LED question in the widget; the slot events of the stop."""
    running = guide_state(guides, "wifi_drops", "status_led", [ROUTER], "router")
    events, messages = await run(
        ActionDiagnosticStop(), on_widget("let's stop here", "stop", customer_id, slots={"diag_active": running})
    )
    assert messages == [said("utter_diag_paused", buttons=[BACK_TO_WIFI], guide=WIFI_TITLE)]
    return events


def resumed_at_status_led(guides: Guides) -> list[dict[str, Any]]:
    return [said("utter_diag_resumed", guide=WIFI_TITLE), step_message(guides, "wifi_drops", "status_led")]


async def test_a_guide_paused_on_the_widget_resumes_on_telegram_at_the_same_step(
    services: Services, guides: Guides
) -> None:
    await pause_wifi_on_the_widget(guides)
    assert saved_rows(services) == [(CUSTOMER, "wifi_drops", "status_led", "web", WIDGET)]

    events, messages = await run(ActionDiagnosticResume(), on_telegram("back to my wifi problem", "resume_diagnostic"))

    assert messages == resumed_at_status_led(guides)
    assert events == [
        SlotSet("diag_active", guide_state(guides, "wifi_drops", "status_led", [ROUTER], "router")),
        SlotSet("diag_paused", []),
    ]
    assert saved_rows(services) == []  # running again, on Telegram


async def test_the_resume_button_names_the_saved_guide(services: Services, guides: Guides) -> None:
    await pause_wifi_on_the_widget(guides)
    login = paused_entry(guides, "login", guides["login"].start)
    await run(
        ActionDiagnosticStop(),
        on_widget("stop", "stop", slots={"diag_active": guide_state(guides, "login", guides["login"].start)}),
    )

    events, messages = await run(
        ActionDiagnosticResume(), on_telegram(BACK_TO_WIFI[1], "resume_diagnostic", entities=[("guide", "wifi_drops")])
    )

    assert messages == resumed_at_status_led(guides)
    assert events[1] == SlotSet("diag_paused", [login])  # the other one is still on hold, now here too
    assert [row[1] for row in saved_rows(services)] == ["login"]


async def test_describing_the_saved_problem_again_on_telegram_resumes_it(services: Services, guides: Guides) -> None:
    await pause_wifi_on_the_widget(guides)

    events, messages = await run(
        ActionDiagnosticStart(), on_telegram("my wifi is dropping again", "problem_wifi_drops")
    )

    assert messages == resumed_at_status_led(guides)
    assert SlotSet("diag_active", guide_state(guides, "wifi_drops", "status_led", [ROUTER], "router")) in events
    assert saved_rows(services) == []


async def test_the_resumed_guide_goes_on_and_its_end_is_not_saved(services: Services, guides: Guides) -> None:
    await pause_wifi_on_the_widget(guides)
    events, _ = await run(ActionDiagnosticResume(), on_telegram("back to my wifi problem", "resume_diagnostic"))
    active = events[0]["value"]

    events, messages = await run(
        ActionDiagnosticStep(), on_telegram("it's blinking orange", "diag_choose", slots={"diag_active": active})
    )

    assert messages == [step_message(guides, "wifi_drops", "internet_down")]
    assert saved_rows(services) == []


async def test_anonymous_customers_keep_their_guides_in_their_conversation_only(
    services: Services, guides: Guides
) -> None:
    events = await pause_wifi_on_the_widget(guides, customer_id=None)
    assert saved_rows(services) == []
    assert events[1] == SlotSet("diag_paused", [paused_entry(guides, "wifi_drops", "status_led", [ROUTER], "router")])

    _, messages = await run(
        ActionDiagnosticResume(), on_telegram("back to my wifi problem", "resume_diagnostic", customer_id=None)
    )

    assert messages == [said("utter_diag_nothing_to_resume")]


async def test_another_customer_cannot_resume_it(services: Services, guides: Guides) -> None:
    await pause_wifi_on_the_widget(guides)

    _, messages = await run(
        ActionDiagnosticResume(), on_telegram("back to my wifi problem", "resume_diagnostic", customer_id="C1003")
    )

    assert messages == [said("utter_diag_nothing_to_resume")]
    assert len(saved_rows(services)) == 1


async def test_a_handoff_saves_the_guide_it_pauses(services: Services, guides: Guides) -> None:
    running = guide_state(guides, "wifi_drops", "status_led", [ROUTER], "router")

    await run(ActionRequestHuman(), on_widget("I want a person", "request_human", slots={"diag_active": running}))

    assert saved_rows(services) == [(CUSTOMER, "wifi_drops", "status_led", "web", WIDGET)]
    _, messages = await run(ActionDiagnosticResume(), on_telegram("back to my wifi problem", "resume_diagnostic"))
    assert messages == resumed_at_status_led(guides)


async def test_a_saved_state_the_guide_no_longer_fits_starts_over(services: Services, guides: Guides) -> None:
    renamed = {**paused_entry(guides, "wifi_drops", "status_led", [ROUTER], "router"), "node": "led_colour_v1"}
    with services.engine.begin() as connection:
        connection.execute(
            CustomerGuide.__table__.insert().values(
                customer_id=CUSTOMER,
                guide_id="wifi_drops",
                state=renamed,
                channel="web",
                conversation_id=WIDGET,
                paused_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
            )
        )

    _, messages = await run(ActionDiagnosticResume(), on_telegram("back to my wifi problem", "resume_diagnostic"))
    assert messages == [said("utter_diag_nothing_to_resume")]
    assert saved_rows(services) == []

    _, messages = await run(ActionDiagnosticStart(), on_telegram("my wifi keeps dropping", "problem_wifi_drops"))
    assert messages == [step_message(guides, "wifi_drops", guides["wifi_drops"].start)]
