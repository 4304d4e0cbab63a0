"""actions/handback.py: the agent hands the conversation back; the customer rates the help."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rasa_sdk.events import FollowupAction, SlotSet

from actions.handback import ActionHandoffHandedBack, ActionHandoffResolved, ActionStoreCsat
from actions.handoff import ActionRequestHuman
from actions.services import Services
from bot.diagnostics import DiagnosticTree
from bot.handoff.requests import HandoffRequests
from tests.actions.helpers import (
    CONVERSATION,
    T0,
    action,
    bot,
    guide_state,
    handoff_rows,
    make_tracker,
    paused_entry,
    resolve_handoff,
    run,
    said,
    step_message,
    user,
)

#: The rating buttons the actions send (a title and a /csat{"score": N} payload each).
CSAT = [(str(n), f'/csat{{"score":"{n}"}}') for n in range(1, 6)]

ANYTHING_ELSE = [FollowupAction("utter_anything_else")]
ROUTER = ("which_device", "A router")


def test_names_match_the_domain() -> None:
    assert [a.name() for a in (ActionHandoffResolved(), ActionStoreCsat(), ActionHandoffHandedBack())] == [
        "action_handoff_resolved",
        "action_store_csat",
        "action_handoff_handed_back",
    ]


async def test_resolved_welcomes_the_customer_back_and_asks_for_a_score(offline_services: Services) -> None:
    tracker = make_tracker("EXTERNAL: handoff_resolved", "handoff_resolved")

    assert await run(ActionHandoffResolved(), tracker) == (
        [SlotSet("csat_asked", True)],  # the bot does not ask for another rating in this conversation
        [said("utter_handed_back"), said("utter_ask_csat", buttons=CSAT)],
    )


# -- action_store_csat ------------------------------------------------------------------------


def two_resolved_handoffs(services: Services) -> tuple[int, int, int]:
    """(earlier, latest) resolved handoffs of the conversation, and one of another conversation."""
    requests = HandoffRequests(services.engine)
    earlier, _ = requests.request(CONVERSATION, "customer_request", {}, "web")
    resolve_handoff(services.engine, earlier.id, dt.datetime(2026, 11, 20, 9))
    latest, _ = requests.request(CONVERSATION, "frustration", {}, "web")
    resolve_handoff(services.engine, latest.id, dt.datetime(2026, 11, 23, 9))
    other, _ = requests.request("another-conversation", "customer_request", {}, "web")
    resolve_handoff(services.engine, other.id, dt.datetime(2026, 11, 24, 9))
    return earlier.id, latest.id, other.id


def scores(services: Services) -> dict[int, Any]:
    return {row["id"]: row["csat"] for row in handoff_rows(services.engine)}


async def test_a_score_is_stored_on_the_latest_resolved_handoff(services: Services) -> None:
    earlier, latest, other = two_resolved_handoffs(services)
    tracker = make_tracker('/csat{"score":"4"}', "csat", entities=[("score", "4")])

    assert await run(ActionStoreCsat(), tracker) == (ANYTHING_ELSE, [said("utter_thanks_csat")])
    assert scores(services) == {earlier: None, latest: 4, other: None}

    # A typed score counts too, and replaces the earlier one.
    assert await run(ActionStoreCsat(), make_tracker("I'd say 5/5", "csat")) == (
        ANYTHING_ELSE,
        [said("utter_thanks_csat")],
    )
    assert scores(services) == {earlier: None, latest: 5, other: None}


async def test_an_invalid_score_is_asked_again_once(services: Services) -> None:
    earlier, latest, other = two_resolved_handoffs(services)

    first = make_tracker("it was great", "affirm")
    assert await run(ActionStoreCsat(), first) == (
        [],
        [said("utter_csat_invalid"), said("utter_ask_csat", buttons=CSAT)],
    )

    asked_again = [
        user("it was great", "affirm", at=T0 - 20),
        action("action_store_csat", at=T0 - 19),
        bot("Sorry, I need a score from 1 to 5", at=T0 - 18),
        action("action_listen", at=T0 - 17),
    ]
    second = make_tracker("6 out of 5!", "csat", history=asked_again)
    assert await run(ActionStoreCsat(), second) == (ANYTHING_ELSE, [])
    assert scores(services) == {earlier: None, latest: None, other: None}


async def test_a_score_without_a_resolved_handoff_is_not_stored(services: Services) -> None:
    HandoffRequests(services.engine).request(CONVERSATION, "customer_request", {}, "web")  # still open

    assert await run(ActionStoreCsat(), make_tracker("3", "csat", entities=[("score", "3")])) == (ANYTHING_ELSE, [])
    assert [row["csat"] for row in handoff_rows(services.engine)] == [None]


# -- action_handoff_handed_back ---------------------------------------------------------------


async def test_handed_back_resumes_the_guide_paused_by_the_handoff(
    offline_services: Services, guides: dict[str, DiagnosticTree]
) -> None:
    left = paused_entry(guides, "wifi_drops", "status_led", [ROUTER], "router")
    tracker = make_tracker("EXTERNAL: handoff_handed_back", "handoff_handed_back", slots={"diag_paused": [left]})

    events, messages = await run(ActionHandoffHandedBack(), tracker)

    assert messages == [
        said("utter_handed_back"),
        said("utter_diag_resumed", guide="Wi-Fi keeps dropping"),
        step_message(guides, "wifi_drops", "status_led"),
    ]
    assert events == [
        SlotSet("diag_active", guide_state(guides, "wifi_drops", "status_led", [ROUTER], "router")),
        SlotSet("diag_paused", []),
    ]


async def test_handed_back_without_a_paused_guide_asks_what_else(offline_services: Services) -> None:
    tracker = make_tracker("EXTERNAL: handoff_handed_back", "handoff_handed_back")

    assert await run(ActionHandoffHandedBack(), tracker) == (ANYTHING_ELSE, [said("utter_handed_back")])


async def test_a_guide_left_for_a_person_resumes_at_its_step_when_handed_back(
    services: Services, guides: dict[str, DiagnosticTree]
) -> None:
    slots: dict[str, Any] = {"diag_active": guide_state(guides, "wifi_drops", "status_led", [ROUTER], "router")}
    events, _ = await run(ActionRequestHuman(), make_tracker("let me talk to a person", "request_human", slots=slots))
    slots.update({e["name"]: e["value"] for e in events if e["event"] == "slot"})
    assert [row["reason"] for row in handoff_rows(services.engine)] == ["customer_request"]

    tracker = make_tracker("EXTERNAL: handoff_handed_back", "handoff_handed_back", slots=slots)
    events, messages = await run(ActionHandoffHandedBack(), tracker)

    assert messages[-1] == step_message(guides, "wifi_drops", "status_led")
    assert events[0] == SlotSet("diag_active", guide_state(guides, "wifi_drops", "status_led", [ROUTER], "router"))


# -- the bot's own rating -----------------------------------------------------------------------


async def test_the_bot_asks_for_a_rating_once_per_conversation(offline_services: Services) -> None:
    from actions.analytics import ActionAskBotCsat

    first = await run(ActionAskBotCsat(), make_tracker("that fixed it", "affirm"))
    assert first == (
        [SlotSet("csat_asked", True), FollowupAction("action_listen")],
        [said("utter_ask_bot_csat", buttons=CSAT)],
    )
    again = await run(ActionAskBotCsat(), make_tracker("that worked", "affirm", slots={"csat_asked": True}))
    assert again == ([FollowupAction("utter_anything_else")], [])


async def test_a_rating_of_the_bot_is_an_analytics_event_not_a_handoffs(offline_services: Services) -> None:
    asked = {**bot("Glad that's sorted! How did I do?"), "metadata": {"utter_action": "utter_ask_bot_csat"}}
    tracker = make_tracker('/csat{"score":"5"}', "csat", entities=[("score", "5")], history=[asked])

    assert await run(ActionStoreCsat(), tracker) == (ANYTHING_ELSE, [said("utter_thanks_csat")])
    recorded = offline_services.analytics.events  # type: ignore[attr-defined]
    assert [(e.kind, e.value, e.attrs) for e in recorded] == [("csat", 5.0, {"handled_by": "bot"})]
