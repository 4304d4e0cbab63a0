"""actions/handoff.py: hand the conversation to a person, with the packet the agent needs."""

from __future__ import annotations

from rasa_sdk.events import ActiveLoop, SlotSet
from sqlalchemy.orm import Session

from actions.handoff import ActionFrustrationHandoff, ActionRequestHuman
from actions.services import Services
from bot.db.models import Conversation
from bot.diagnostics import DiagnosticTree
from bot.handoff.requests import HandoffRequests
from tests.actions.helpers import (
    CONVERSATION,
    T0,
    bot,
    expected_notices,
    guide_state,
    handoff_rows,
    iso,
    make_tracker,
    now_utc,
    paused_entry,
    run,
    said,
    user,
)

GREETING = [user("hi", "greet", at=T0 - 60), bot("Hi! I'm the Nimbus Networks support assistant.", at=T0 - 59)]
ROUTER = ("which_device", "A router")


def test_names_match_the_domain() -> None:
    assert [ActionRequestHuman().name(), ActionFrustrationHandoff().name()] == [
        "action_request_human",
        "action_frustration_handoff",
    ]


# -- action_request_human ---------------------------------------------------------------------


async def test_request_human_opens_exactly_one_handoff_with_its_packet(services: Services) -> None:
    tracker = make_tracker("I want to talk to a person", "request_human", history=GREETING)

    before = now_utc()
    events, messages = await run(ActionRequestHuman(), tracker)
    after = now_utc()

    assert events == []
    assert messages in [[notice] for notice in expected_notices(services, before, after, position=1)]
    [handoff] = handoff_rows(services.engine)
    assert (handoff["conversation_id"], handoff["reason"], handoff["status"], handoff["csat"]) == (
        CONVERSATION,
        "customer_request",
        "open",
        None,
    )
    assert handoff["packet"] == {
        "reason": "customer_request",
        "channel": "web",
        "customer": None,
        "transcript": [
            {"sender": "customer", "text": "hi", "at": iso(T0 - 60)},
            {"sender": "bot", "text": "Hi! I'm the Nimbus Networks support assistant.", "at": iso(T0 - 59)},
            {"sender": "customer", "text": "I want to talk to a person", "at": iso(T0)},
        ],
        "intents": [
            {"text": "hi", "ranking": [{"intent": "greet", "confidence": 0.97}]},
            {"text": "I want to talk to a person", "ranking": [{"intent": "request_human", "confidence": 0.97}]},
        ],
        "slots": {},
        "troubleshooting": None,
        "known": {},
        "summary": "Customer asked for a person. Last message: 'I want to talk to a person'.",
        "language": None,  # the client named none, and "hi" shows none
        "action": None,  # no form was running
    }
    with Session(services.engine) as session:
        conversation = session.get(Conversation, CONVERSATION)
        assert conversation is not None and conversation.channel == "web"

    # Asking again reuses the open handoff.
    again = make_tracker("hello? a person please", "request_human", history=GREETING)
    before = now_utc()
    events, messages = await run(ActionRequestHuman(), again)
    after = now_utc()
    assert events == []
    assert messages in [[notice] for notice in expected_notices(services, before, after, position=1)]
    assert [row["id"] for row in handoff_rows(services.engine)] == [handoff["id"]]


async def test_request_human_tells_the_place_in_the_queue(services: Services) -> None:
    HandoffRequests(services.engine).request("someone-earlier", "customer_request", {}, "telegram")

    before = now_utc()
    _, messages = await run(ActionRequestHuman(), make_tracker("a human please", "request_human"))
    after = now_utc()

    assert messages in [[notice] for notice in expected_notices(services, before, after, position=2)]
    assert [row["conversation_id"] for row in handoff_rows(services.engine)] == ["someone-earlier", CONVERSATION]


async def test_request_human_pauses_the_running_guide_and_hands_over_its_path(
    services: Services, guides: dict[str, DiagnosticTree]
) -> None:
    active = guide_state(guides, "wifi_drops", "status_led", [ROUTER], "router")
    tracker = make_tracker(
        "can I talk to someone",
        "request_human",
        customer_id="C1004",
        slots={
            "diag_active": active,
            "diag_paused": [],
            "product": "velo ax3000",
            "order_tries": 0.0,
            "link_email": "x",
        },
    )

    events, _ = await run(ActionRequestHuman(), tracker)

    assert events == [
        SlotSet("diag_active", None),
        SlotSet("diag_paused", [paused_entry(guides, "wifi_drops", "status_led", [ROUTER], "router")]),
    ]
    [handoff] = handoff_rows(services.engine)
    packet = handoff["packet"]
    assert packet["troubleshooting"] == {
        "guide": "wifi_drops",
        "guide_title": "Wi-Fi keeps dropping",
        "ended_at": "status_led",
        "device": "router",
        "path": [{"step": "which_device", "answer": "A router"}],
    }
    assert packet["customer"] == {
        "id": "C1004",
        "summary": {"orders": 3, "latest_order": {"number": "100378", "status": "shipped"}, "devices": 2, "plan": None},
        "history": {"conversations": [], "open_requests": []},  # no other conversation of C1004
    }
    assert packet["slots"] == {"product": "velo ax3000"}  # internal slots and anything like an email are left out
    assert packet["summary"] == (
        "Customer asked for a person during the Wi-Fi keeps dropping guide (1 step: which_device: A router). "
        "Last message: 'can I talk to someone'."
    )


async def test_request_human_in_a_form_ends_the_form(services: Services) -> None:
    tracker = make_tracker(
        "just get me a person", "request_human", active_loop="order_form", slots={"requested_slot": "order_number"}
    )

    events, _ = await run(ActionRequestHuman(), tracker)

    assert events == [ActiveLoop(None), SlotSet("requested_slot", None)]
    assert [row["reason"] for row in handoff_rows(services.engine)] == ["customer_request"]


async def test_request_human_with_the_frustrated_intent_records_frustration(services: Services) -> None:
    await run(ActionRequestHuman(), make_tracker("I'm fed up with this", "frustrated"))

    assert [row["reason"] for row in handoff_rows(services.engine)] == ["frustration"]


# -- action_frustration_handoff ---------------------------------------------------------------


async def test_frustration_handoff_apologises_and_records_the_signal(services: Services) -> None:
    tracker = make_tracker("this bot is useless", "order_status", history=GREETING)

    before = now_utc()
    events, messages = await run(ActionFrustrationHandoff(), tracker)
    after = now_utc()

    assert events == []
    assert messages[0] == said("utter_frustrated_empathy")
    assert messages[1:] in [[notice] for notice in expected_notices(services, before, after)]
    [handoff] = handoff_rows(services.engine)
    assert (handoff["reason"], handoff["packet"]["frustration_signal"]) == ("frustration", "phrase:useless")
    assert handoff["packet"]["summary"] == "Customer seemed frustrated. Last message: 'this bot is useless'."


async def test_frustration_signal_by_shouting_rephrasing_or_the_intent(services: Services) -> None:
    asked = [
        user("where is my order 100378", "order_status", at=T0 - 30),
        user("where is my order 100378 please", "order_status", at=T0 - 20),
    ]
    cases = {
        "shouting": make_tracker("WHERE IS MY ORDER", "order_status", sender_id="shouting"),
        "rephrasing": make_tracker(
            "where is my order 100378 now", "order_status", history=asked, sender_id="rephrasing"
        ),
        "intent:frustrated": make_tracker("I am not happy with this", "frustrated", sender_id="intent"),
        "none": make_tracker("ok", "affirm", sender_id="none"),  # predicted by FrustrationPolicy on earlier signs
    }
    for tracker in cases.values():
        await run(ActionFrustrationHandoff(), tracker)

    rows = handoff_rows(services.engine)
    assert [(row["conversation_id"], row["reason"]) for row in rows] == [
        (name, "frustration") for name in ("shouting", "rephrasing", "intent", "none")
    ]
    assert [row["packet"]["frustration_signal"] for row in rows] == [
        "shouting",
        "rephrasing",
        "intent:frustrated",
        None,
    ]


async def test_the_packet_names_the_customers_other_conversations_and_open_requests(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        session.add(Conversation(id="telegram-4711", channel="telegram", customer_id="C1004"))
    earlier, _ = HandoffRequests(services.engine).request("telegram-4711", "customer_request", {}, "telegram")
    tracker = make_tracker("can I talk to someone", "request_human", customer_id="C1004")

    await run(ActionRequestHuman(), tracker)

    [handoff] = [h for h in handoff_rows(services.engine) if h["id"] != earlier.id]
    history = handoff["packet"]["customer"]["history"]
    assert [(c["id"], c["channel"], c["outcome"]) for c in history["conversations"]] == [
        ("telegram-4711", "telegram", "waiting for an agent")
    ]
    assert [(r["id"], r["status"]) for r in history["open_requests"]] == [(earlier.id, "open")]
