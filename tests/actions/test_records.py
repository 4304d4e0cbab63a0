"""actions/records.py: a verified customer's own orders, warranty, bills and open requests."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.records import (
    ActionBillingStatus,
    ActionMyHandoffs,
    ActionOrderStatus,
    ActionRecentOrders,
    ActionWarrantyStatus,
    ValidateOrderForm,
)
from actions.services import Services, use
from bot.db.models import ChannelIdentity, Conversation, Handoff, HandoffStatus
from bot.handoff.requests import HandoffRequests
from bot.records.reference_api import create_records_app
from tests.actions.helpers import (
    CHANNEL_USER,
    CONVERSATION,
    T0,
    audit_rows,
    bot,
    day,
    expected_notices,
    handoff_rows,
    iso,
    load_domain,
    make_tracker,
    now_utc,
    resolve_handoff,
    run,
    said,
    slot,
    user,
    with_data_parts,
)

RESET = [SlotSet("order_number", None), SlotSet("order_tries", 0.0)]
#: After a status answer the order is remembered for "ok, cancel it" (slot last_order).
ANSWERED_100378 = [*RESET, SlotSet("last_order", "100378")]
#: C1004's shipped order (data/records/orders.yml).
ORDER_100378 = said(
    "utter_order_shipped",
    number="100378",
    placed="15 Nov 2026",
    items="Nimbus AX1800 USB Wi-Fi Adapter, Nimbus 12 V / 1.5 A Power Supply",
    total="€59.98",
    carrier="DHL",
    tracking="00340434800652050635",
    shipped="16 Nov 2026",
    delivered="-",
)
NOT_FOUND = (
    [said("utter_order_not_found")],
    [SlotSet("order_number", None), SlotSet("order_tries", 1.0), FollowupAction("order_form")],
)


def test_names_match_the_domain() -> None:
    assert [a().name() for a in (ActionOrderStatus, ActionRecentOrders, ActionWarrantyStatus)] == [
        "action_order_status",
        "action_recent_orders",
        "action_warranty_status",
    ]
    assert [a().name() for a in (ActionBillingStatus, ActionMyHandoffs, ValidateOrderForm)] == [
        "action_billing_status",
        "action_my_handoffs",
        "validate_order_form",
    ]


# -- action_order_status ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "entities", "slots"),
    [
        ("where is my order 100378?", [("order_number", "100378")], {}),
        ("100 378", [], {"order_number": "100 378", "order_tries": 0.0}),  # filled by order_form
    ],
    ids=["entity", "form-slot"],
)
async def test_order_status_of_a_verified_customers_own_order(
    services: Services, text: str, entities: list[tuple[str, Any]], slots: dict[str, Any]
) -> None:
    tracker = make_tracker(text, "order_status", entities=entities, customer_id="C1004", slots=slots)

    events, messages = await run(ActionOrderStatus(), tracker)

    assert messages == [ORDER_100378]
    assert events == ANSWERED_100378
    assert audit_rows(services.engine) == [("C1004", "order", "web", "found")]


async def test_someone_elses_order_is_answered_exactly_like_a_nonexistent_one(services: Services) -> None:
    answers = []
    for number in ("100161", "199999"):  # 100161 is Anna Schmidt's (C1001); 199999 does not exist
        tracker = make_tracker(
            f"status of {number}", "order_status", entities=[("order_number", number)], customer_id="C1004"
        )
        events, messages = await run(ActionOrderStatus(), tracker)
        answers.append((messages, events))

    assert answers == [NOT_FOUND, NOT_FOUND]
    assert audit_rows(services.engine) == [("C1004", "order", "web", "not_found")] * 2


async def test_order_status_without_a_number_asks_for_it_in_the_form(services: Services) -> None:
    events, messages = await run(
        ActionOrderStatus(), make_tracker("where is my order?", "order_status", customer_id="C1004")
    )

    assert messages == []
    assert events == [SlotSet("order_tries", 0.0), FollowupAction("order_form")]
    assert audit_rows(services.engine) == []


async def test_an_anonymous_customer_is_asked_to_verify_and_the_question_is_kept(services: Services) -> None:
    tracker = make_tracker("where is order 100378?", "order_status", entities=[("order_number", "100378")])
    answers = {}
    for action in (
        ActionOrderStatus(),
        ActionRecentOrders(),
        ActionWarrantyStatus(),
        ActionBillingStatus(),
        ActionMyHandoffs(),
    ):
        answers[action.name()] = await run(action, tracker)

    assert answers == {
        name: ([SlotSet("pending_request", name), FollowupAction("link_form")], [said("utter_need_verification")])
        for name in (
            "action_order_status",
            "action_recent_orders",
            "action_warranty_status",
            "action_billing_status",
            "action_my_handoffs",
        )
    }
    assert audit_rows(services.engine) == []  # nothing was looked up


async def test_a_chat_linked_by_code_is_verified_by_its_channel_identity(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        session.add(
            ChannelIdentity(
                channel="web", external_id=CHANNEL_USER, customer_id="C1004", linked_at=dt.datetime(2026, 11, 20)
            )
        )

    events, messages = await run(
        ActionOrderStatus(), make_tracker("100378", "order_status", entities=[("order_number", "100378")])
    )
    assert (messages, events) == ([ORDER_100378], ANSWERED_100378)

    # Another visitor on the same channel is not linked.
    events, messages = await run(ActionOrderStatus(), make_tracker("100378", "order_status", channel_user="visitor-2"))
    assert messages == [said("utter_need_verification")]


async def test_three_wrong_order_numbers_hand_over_to_a_person(services: Services) -> None:
    form = ValidateOrderForm()
    history = [
        user("where is my order?", "order_status", at=T0 - 40),
        bot("What's the order number?", at=T0 - 39),
    ]
    tries = 0.0
    answers = []
    for number, at in (("199999", T0 - 30), ("my order number", T0 - 20), ("100161", T0)):
        tracker = make_tracker(
            number, "inform", customer_id="C1004", slots={"order_tries": tries}, active_loop="order_form"
        )
        dispatcher = CollectingDispatcher()
        result = await form.validate_order_number(number, dispatcher, tracker, {})
        answers.append((result, dispatcher.messages))
        tries = result["order_tries"]
        if at != T0:
            history += [user(number, "inform", at=at), bot("Sorry...", at=at + 1)]

    assert answers == [
        ({"order_number": None, "order_tries": 1.0}, [said("utter_order_not_found")]),
        ({"order_number": None, "order_tries": 2.0}, [said("utter_order_number_invalid")]),
        ({"order_number": None, "order_tries": 3.0, "requested_slot": None}, []),  # the form stops
    ]
    assert handoff_rows(services.engine) == []

    tracker = make_tracker("100161", "inform", customer_id="C1004", slots={"order_tries": 3.0}, history=history)
    before = now_utc()
    events, messages = await run(ActionOrderStatus(), tracker)
    after = now_utc()

    assert events == RESET
    assert messages[0] == said("utter_order_tries_exhausted")
    assert messages[1:] in [[notice] for notice in expected_notices(services, before, after)]
    [handoff] = handoff_rows(services.engine)
    assert (handoff["conversation_id"], handoff["reason"], handoff["status"]) == (CONVERSATION, "form_failed", "open")
    packet = handoff["packet"]
    assert [line["text"] for line in packet["transcript"] if line["sender"] == "customer"] == [
        "where is my order?",
        "199999",
        "my order number",
        "100161",
    ]
    assert packet["transcript"][-1] == {"sender": "customer", "text": "100161", "at": iso(T0)}
    assert packet["summary"] == (
        "The customer could not complete a form (e.g. a valid order number). Last message: '100161'."
    )
    assert packet["customer"] == {
        "id": "C1004",
        "summary": {"orders": 3, "latest_order": {"number": "100378", "status": "shipped"}, "devices": 2, "plan": None},
        "history": {"conversations": [], "open_requests": []},
    }


# -- validate_order_form ----------------------------------------------------------------------


async def test_the_form_accepts_the_customers_own_number(services: Services) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("it's #100 378", "inform", customer_id="C1004", active_loop="order_form")

    result = await ValidateOrderForm().validate_order_number("it's #100 378", dispatcher, tracker, {})

    assert (result, dispatcher.messages) == ({"order_number": "100378"}, [])


async def test_the_form_run_validates_the_slot_set_this_turn(services: Services) -> None:
    tracker = make_tracker(
        "100378", "inform", customer_id="C1004", active_loop="order_form", after=[slot("order_number", "100378")]
    )

    events, messages = await run(ValidateOrderForm(), tracker, load_domain())

    assert (events, messages) == ([SlotSet("order_number", "100378")], [])


async def test_the_form_does_not_judge_a_number_already_answered_this_turn(services: Services) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("100378", "order_status", customer_id="C1004", after=[bot("Order 100378 ... shipped")])

    result = await ValidateOrderForm().validate_order_number("100378", dispatcher, tracker, {})

    assert (result, dispatcher.messages) == ({"order_number": None}, [])
    assert audit_rows(services.engine) == []


async def test_the_form_skips_an_empty_slot_and_counts_an_anonymous_number_as_wrong(services: Services) -> None:
    dispatcher = CollectingDispatcher()
    form = ValidateOrderForm()
    assert await form.validate_order_number(None, dispatcher, make_tracker("hi"), {}) == {}

    result = await form.validate_order_number(
        "100378", dispatcher, make_tracker("100378", slots={"order_tries": 1.0}), {}
    )

    assert result == {"order_number": None, "order_tries": 2.0}
    assert dispatcher.messages == [said("utter_order_not_found")]
    assert audit_rows(services.engine) == []


# -- the records system is down ---------------------------------------------------------------


@pytest.fixture
async def http_records(services: Services) -> AsyncIterator[Callable[[str], Services]]:
    """Install services whose records backend is the reference records API (over HTTP), called with a given token."""
    server = TestServer(create_records_app(services.engine, "records-token"), host="127.0.0.1", port=0)
    await server.start_server()
    built: list[Services] = []
    with contextlib.ExitStack() as installed:

        def install(token: str) -> Services:
            records = {"backend": "http", "url": str(server.make_url("")).rstrip("/"), "token": token}
            built.append(with_data_parts(Services(services.settings.with_overrides(records=records)), services))
            return installed.enter_context(use(built[-1]))

        try:
            yield install
        finally:
            installed.close()
            for each in built:
                await each.records.close()  # type: ignore[attr-defined]  # an HttpRecords
                each.close()
            await server.close()


async def test_order_status_through_the_http_records_api(
    services: Services, http_records: Callable[[str], Services]
) -> None:
    http_records("records-token")
    tracker = make_tracker("100378", "order_status", entities=[("order_number", "100378")], customer_id="C1004")

    events, messages = await run(ActionOrderStatus(), tracker)

    assert (messages, events) == ([ORDER_100378], ANSWERED_100378)
    assert audit_rows(services.engine) == [("C1004", "order", "web", "found")]


async def test_records_down_is_said_plainly_and_the_form_stops(
    services: Services, http_records: Callable[[str], Services]
) -> None:
    http_records("a-token-the-records-api-refuses")
    tracker = make_tracker("100378", "order_status", entities=[("order_number", "100378")], customer_id="C1004")

    events, messages = await run(ActionOrderStatus(), tracker)
    assert (messages, events) == ([said("utter_records_unavailable")], RESET)

    dispatcher = CollectingDispatcher()
    result = await ValidateOrderForm().validate_order_number("100378", dispatcher, tracker, {})
    assert result == {"order_number": None, "order_tries": -1.0, "requested_slot": None}
    assert dispatcher.messages == [said("utter_records_unavailable")]

    # After the form stopped, action_order_status does not say it twice.
    events, messages = await run(
        ActionOrderStatus(), make_tracker("100378", customer_id="C1004", slots={"order_tries": -1.0})
    )
    assert (messages, events) == ([], RESET)
    assert audit_rows(services.engine) == [("C1004", "order", "web", "unavailable")] * 2


async def test_billing_with_records_down(services: Services, http_records: Callable[[str], Services]) -> None:
    http_records("a-token-the-records-api-refuses")

    events, messages = await run(
        ActionBillingStatus(), make_tracker("my bill", "billing_question", customer_id="C1003")
    )

    assert messages == [said("utter_records_unavailable")]
    assert events == RESET


# -- recent orders, warranty, billing, open requests ------------------------------------------


async def test_recent_orders_newest_first(services: Services) -> None:
    events, messages = await run(ActionRecentOrders(), make_tracker("my orders", "recent_orders", customer_id="C1004"))

    assert events == []
    assert messages == [
        said(
            "utter_recent_orders",
            lines="• 100378 (15 Nov 2026): Nimbus AX1800 USB Wi-Fi Adapter, Nimbus 12 V / 1.5 A Power Supply — shipped, €59.98\n"
            "• 100323 (9 Nov 2026): 2 × Nimbus Reach AX3000 Range Extender — cancelled, €179.98\n"
            "• 100286 (2 Nov 2026): Nimbus Velo BE7200 — delivered, €279.99",
        )
    ]
    assert audit_rows(services.engine) == [("C1004", "orders", "web", "found")]


def warranty_line(product: str, serial: str, until: dt.date) -> str:
    state = "in warranty until" if dt.date.today() <= until else "warranty ended on"
    return f"• {product} (serial {serial}): {state} {day(until)}"


ADAPTER = warranty_line("Nimbus AX1800 USB Wi-Fi Adapter", "NX-U1-BD4D6E", dt.date(2028, 11, 15))
SWITCH = warranty_line("Nimbus 8-Port Gigabit Switch", "NX-S8-6C9C18", dt.date(2028, 10, 7))


async def test_warranty_of_the_customers_devices_or_of_the_one_asked_about(services: Services) -> None:
    questions: list[tuple[str, list[tuple[str, Any]]]] = [
        ("is my stuff under warranty?", []),
        ("warranty of nx-u1-bd4d6e", [("serial", "nx-u1-bd4d6e")]),
        ("what about NX-S8-6C9C18?", []),  # no entity: the serial is read from the text
        ("and NX-AB-123456?", []),  # not one of C1004's devices
    ]
    answers = []
    for text, entities in questions:
        answers.append(
            await run(
                ActionWarrantyStatus(), make_tracker(text, "warranty_status", entities=entities, customer_id="C1004")
            )
        )

    assert answers == [
        ([], [said("utter_warranty_devices", lines=f"{ADAPTER}\n{SWITCH}")]),
        ([], [said("utter_warranty_devices", lines=ADAPTER)]),
        ([], [said("utter_warranty_devices", lines=SWITCH)]),
        ([], [said("utter_device_not_found", lines=f"{ADAPTER}\n{SWITCH}")]),
    ]
    assert audit_rows(services.engine) == [("C1004", "devices", "web", "found")] * 4


async def test_warranty_of_a_customer_without_devices(services: Services) -> None:
    events, messages = await run(
        ActionWarrantyStatus(), make_tracker("warranty?", "warranty_status", customer_id="C1001")
    )

    assert (messages, events) == ([said("utter_no_devices")], [])


async def test_billing_plan_and_latest_invoices(services: Services) -> None:
    events, messages = await run(
        ActionBillingStatus(), make_tracker("my bill", "billing_question", customer_id="C1003")
    )

    assert events == []
    assert messages == [
        said(
            "utter_billing_status",
            subscriptions="Your plan: Nimbus Shield (monthly) (active), next bill €4.99 on 4 Dec 2026.",
            invoices="Latest invoices:\n"
            "• Invoice INV-2026-00106: €4.99, due 18 Nov 2026 — paid\n"
            "• Invoice INV-2026-00092: €4.99, due 18 Oct 2026 — paid\n"
            "• Invoice INV-2026-00078: €4.99, due 18 Sep 2026 — paid",
        )
    ]
    assert sorted(audit_rows(services.engine)) == [
        ("C1003", "invoices", "web", "found"),
        ("C1003", "subscriptions", "web", "found"),
    ]


async def test_billing_of_a_customer_without_subscription(services: Services) -> None:
    events, messages = await run(
        ActionBillingStatus(), make_tracker("my bill", "billing_question", customer_id="C1004")
    )

    assert (messages, events) == ([said("utter_no_billing")], [])


async def test_my_handoffs_lists_the_customers_unresolved_requests(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        session.add_all(
            [
                Conversation(id="web-earlier", channel="web", customer_id="C1004"),
                Conversation(id="telegram-chat", channel="telegram", customer_id="C1004"),
                Conversation(id="someone-else", channel="web", customer_id="C1003"),
            ]
        )
    requests = HandoffRequests(services.engine)
    resolved, _ = requests.request("web-earlier", "customer_request", {})
    resolve_handoff(services.engine, resolved.id, dt.datetime(2026, 11, 20, 10))
    first, _ = requests.request("web-earlier", "form_failed", {})
    second, _ = requests.request("telegram-chat", "low_confidence", {})
    requests.request("someone-else", "frustration", {})
    with Session(services.engine) as session, session.begin():
        claimed = session.get(Handoff, second.id)
        claimed.status = HandoffStatus.CLAIMED
    created = {row["id"]: day(row["created_at"].date()) for row in handoff_rows(services.engine)}

    events, messages = await run(ActionMyHandoffs(), make_tracker("my requests?", "my_handoffs", customer_id="C1004"))

    assert events == []
    assert messages == [
        said(
            "utter_my_handoffs",
            lines=f"• Request #{first.id} (form failed), open since {created[first.id]}\n"
            f"• Request #{second.id} (low confidence), claimed since {created[second.id]}",
        )
    ]


async def test_my_handoffs_without_any(services: Services) -> None:
    events, messages = await run(ActionMyHandoffs(), make_tracker("my requests?", "my_handoffs", customer_id="C1004"))

    assert (messages, events) == ([said("utter_no_handoffs")], [])
