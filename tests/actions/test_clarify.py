"""actions/clarify.py: a message the NLU did not understand ("did you mean ...?", then a person)."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.clarify import ActionClarify
from actions.services import Services
from bot.diagnostics import DiagnosticTree
from tests.actions.helpers import (
    CONVERSATION,
    T0,
    action,
    bot,
    expected_notices,
    guide_state,
    handoff_rows,
    make_tracker,
    now_utc,
    paused_entry,
    run,
    said,
    user,
)

#: The NLU's guesses for a message it did not understand: titled intents in data/handoff.yml are offered.
RANKING = [
    ("nlu_fallback", 0.45),
    ("greet", 0.30),  # no button title: never offered
    ("order_status", 0.25),
    ("request_human", 0.20),  # always offered last, as "Talk to a person"
    ("problem_wifi_drops", 0.12),
    ("billing_question", 0.05),
]
CLARIFY = said(
    "utter_clarify",
    buttons=[
        ("Track my order", "/order_status"),
        ("Wifi keeps dropping", "/problem_wifi_drops"),
        ("Talk to a person", "/request_human"),
    ],
)


def not_understood(text: str, at: float, answered_by: str = "action_clarify") -> list[dict]:
    """An earlier misunderstood message and the bot's answer."""
    return [
        user(text, "nlu_fallback", ranking=RANKING, at=at),
        action(answered_by, at=at + 1),
        bot("Sorry, I'm not sure I understood.", at=at + 2),
        action("action_listen", at=at + 3),
    ]


def test_name_matches_the_domain() -> None:
    assert ActionClarify().name() == "action_clarify"


async def test_first_misunderstanding_offers_the_two_likeliest_topics_and_a_person(offline_services: Services) -> None:
    tracker = make_tracker("the thingy blinks weird", "nlu_fallback", ranking=RANKING)

    assert await run(ActionClarify(), tracker) == ([], [CLARIFY])


async def test_no_topic_with_a_title_falls_back_to_the_default_answer(offline_services: Services) -> None:
    tracker = make_tracker(
        "asdf qwer", "nlu_fallback", ranking=[("nlu_fallback", 0.4), ("greet", 0.3), ("goodbye", 0.2)]
    )

    assert await run(ActionClarify(), tracker) == ([], [said("utter_default")])


async def test_the_second_misunderstanding_in_a_row_hands_over(services: Services) -> None:
    tracker = make_tracker(
        "the blue one with the lights",
        "nlu_fallback",
        ranking=RANKING,
        history=not_understood("the thingy blinks weird", T0 - 30),
    )

    events, messages = await run(ActionClarify(), tracker)

    assert (events, messages) == ([], [said("utter_not_understood_handoff")])
    [handoff] = handoff_rows(services.engine)
    assert (handoff["conversation_id"], handoff["reason"], handoff["status"]) == (
        CONVERSATION,
        "low_confidence",
        "open",
    )
    assert handoff["packet"]["intents"][-1] == {
        "text": "the blue one with the lights",
        "ranking": [
            {"intent": "nlu_fallback", "confidence": 0.45},
            {"intent": "greet", "confidence": 0.3},
            {"intent": "order_status", "confidence": 0.25},
        ],
    }
    assert handoff["packet"]["summary"] == (
        "The bot did not understand the customer. Last message: 'the blue one with the lights'."
    )


async def test_a_handover_for_misunderstanding_pauses_the_running_guide(
    services: Services, guides: dict[str, DiagnosticTree]
) -> None:
    active = guide_state(guides, "wifi_drops", "status_led", [("which_device", "A router")], "router")
    tracker = make_tracker(
        "the blue one",
        "nlu_fallback",
        ranking=RANKING,
        history=not_understood("hmm the thing", T0 - 30),
        slots={"diag_active": active},
    )

    events, _ = await run(ActionClarify(), tracker)

    assert events == [
        SlotSet("diag_active", None),
        SlotSet(
            "diag_paused", [paused_entry(guides, "wifi_drops", "status_led", [("which_device", "A router")], "router")]
        ),
    ]
    assert handoff_rows(services.engine)[0]["packet"]["troubleshooting"]["ended_at"] == "status_led"


async def test_only_misunderstandings_answered_by_clarify_count(offline_services: Services) -> None:
    inside_a_guide = make_tracker(
        "the thingy blinks weird",
        "nlu_fallback",
        ranking=RANKING,
        history=not_understood("purple?", T0 - 30, answered_by="action_diagnostic_step"),
    )
    understood_between = make_tracker(
        "the thingy blinks weird",
        "nlu_fallback",
        ranking=RANKING,
        history=[
            *not_understood("purple?", T0 - 30),
            user("where is my order", "order_status", at=T0 - 20),
            action("action_order_status", at=T0 - 19),
        ],
    )

    assert await run(ActionClarify(), inside_a_guide) == ([], [CLARIFY])
    assert await run(ActionClarify(), understood_between) == ([], [CLARIFY])


async def test_a_frustrated_misunderstood_message_hands_over_at_once(services: Services) -> None:
    tracker = make_tracker("why does nothing work?!?!", "nlu_fallback", ranking=RANKING)

    before = now_utc()
    events, messages = await run(ActionClarify(), tracker)
    after = now_utc()

    assert events == []
    assert messages[0] == said("utter_frustrated_empathy")
    assert messages[1:] in [[notice] for notice in expected_notices(services, before, after)]
    [handoff] = handoff_rows(services.engine)
    assert (handoff["reason"], handoff["packet"]["frustration_signal"]) == ("frustration", "punctuation")
