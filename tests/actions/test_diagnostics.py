"""actions/diagnostics.py: start, answer, resume and put on hold a troubleshooting guide."""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import FollowupAction, SlotSet

from actions.diagnostics import (
    ActionDiagnosticResume,
    ActionDiagnosticStart,
    ActionDiagnosticStep,
    ActionDiagnosticStop,
)
from actions.services import Services
from bot.diagnostics import DiagnosticTree
from tests.actions.helpers import (
    CONVERSATION,
    guide_state,
    handoff_rows,
    make_tracker,
    paused_entry,
    run,
    said,
    step_message,
)

Guides = dict[str, DiagnosticTree]
ROUTER = ("which_device", "A router")
WIFI_TITLE = "Wi-Fi keeps dropping"
BACK_TO_WIFI = ("Back to: Wi-Fi keeps dropping", '/resume_diagnostic{"guide":"wifi_drops"}')


def wifi_at_status_led(guides: Guides, misses: int = 0) -> dict[str, Any]:
    return guide_state(guides, "wifi_drops", "status_led", [ROUTER], "router", misses)


def test_names_match_the_domain() -> None:
    assert [a.name() for a in (ActionDiagnosticStart(), ActionDiagnosticStep())] == [
        "action_diagnostic_start",
        "action_diagnostic_step",
    ]
    assert [a.name() for a in (ActionDiagnosticResume(), ActionDiagnosticStop())] == [
        "action_diagnostic_resume",
        "action_diagnostic_stop",
    ]


# -- action_diagnostic_start ------------------------------------------------------------------


async def test_start_shows_the_first_step_of_the_problems_guide(offline_services: Services, guides: Guides) -> None:
    tracker = make_tracker("my wifi keeps dropping", "problem_wifi_drops")

    events, messages = await run(ActionDiagnosticStart(), tracker)

    assert messages == [step_message(guides, "wifi_drops", "which_device")]
    assert messages[0]["buttons"][0] == {"title": "A router", "payload": '/diag_choose{"option":"1"}'}
    assert events == [
        SlotSet("diag_active", guide_state(guides, "wifi_drops", "which_device")),
        SlotSet("diag_paused", []),
    ]


async def test_start_skips_the_question_the_problems_description_answers(
    offline_services: Services, guides: Guides
) -> None:
    tracker = make_tracker("the wifi on my velo be7200 cuts out every hour", "problem_wifi_drops")

    events, messages = await run(ActionDiagnosticStart(), tracker)

    assert messages == [said(text=guides["wifi_drops"].intro), step_message(guides, "wifi_drops", "status_led")]
    assert events == [
        SlotSet("product_sku", "NR-BE7200-EU"),  # the device, remembered for "how much is a new one?"
        SlotSet("diag_active", wifi_at_status_led(guides)),
        SlotSet("diag_paused", []),
    ]


async def test_start_without_a_guide_for_the_intent_says_so(offline_services: Services) -> None:
    events, messages = await run(ActionDiagnosticStart(), make_tracker("my toaster is broken", "out_of_scope"))

    assert messages == [said("utter_diag_no_guide")]
    assert events == [SlotSet("diag_active", None), SlotSet("diag_paused", [])]


async def test_start_of_the_running_guide_continues_it(offline_services: Services, guides: Guides) -> None:
    tracker = make_tracker(
        "my wifi keeps dropping", "problem_wifi_drops", slots={"diag_active": wifi_at_status_led(guides)}
    )

    events, messages = await run(ActionDiagnosticStart(), tracker)

    assert messages == [said("utter_diag_continue"), step_message(guides, "wifi_drops", "status_led")]
    assert events == [SlotSet("diag_active", wifi_at_status_led(guides)), SlotSet("diag_paused", [])]


async def test_start_of_another_problem_pauses_the_running_guide(offline_services: Services, guides: Guides) -> None:
    tracker = make_tracker(
        "and my extender won't turn on", "problem_no_power", slots={"diag_active": wifi_at_status_led(guides)}
    )

    events, messages = await run(ActionDiagnosticStart(), tracker)

    assert messages == [step_message(guides, "no_power", "which_device")]
    assert events == [
        SlotSet("diag_active", guide_state(guides, "no_power", "which_device")),
        SlotSet("diag_paused", [paused_entry(guides, "wifi_drops", "status_led", [ROUTER], "router")]),
    ]


async def test_start_of_a_paused_guide_resumes_it_where_it_was_left(offline_services: Services, guides: Guides) -> None:
    left = paused_entry(guides, "wifi_drops", "status_led", [ROUTER], "router", misses=1)
    tracker = make_tracker("my wifi keeps dropping again", "problem_wifi_drops", slots={"diag_paused": [left]})

    events, messages = await run(ActionDiagnosticStart(), tracker)

    assert messages == [said("utter_diag_resumed", guide=WIFI_TITLE), step_message(guides, "wifi_drops", "status_led")]
    assert events == [SlotSet("diag_active", wifi_at_status_led(guides, misses=0)), SlotSet("diag_paused", [])]


# -- action_diagnostic_step -------------------------------------------------------------------


async def test_a_free_text_answer_moves_to_the_next_step(offline_services: Services, guides: Guides) -> None:
    tracker = make_tracker("the router", slots={"diag_active": guide_state(guides, "wifi_drops", "which_device")})

    events, messages = await run(ActionDiagnosticStep(), tracker)

    assert messages == [step_message(guides, "wifi_drops", "status_led")]
    assert events == [SlotSet("diag_active", wifi_at_status_led(guides)), SlotSet("diag_paused", [])]


async def test_a_button_answer_picks_the_option_by_position(offline_services: Services, guides: Guides) -> None:
    tracker = make_tracker(
        '/diag_choose{"option":"2"}',
        "diag_choose",
        slots={"diag_active": guide_state(guides, "wifi_drops", "which_device")},
    )

    events, messages = await run(ActionDiagnosticStep(), tracker)

    assert messages == [step_message(guides, "wifi_drops", "mesh_led")]
    expected = guide_state(guides, "wifi_drops", "mesh_led", [("which_device", "A mesh kit")], "mesh")
    assert events == [SlotSet("diag_active", expected), SlotSet("diag_paused", [])]


async def test_a_correction_goes_back_and_takes_the_other_answer(offline_services: Services, guides: Guides) -> None:
    tracker = make_tracker("oh wait, it's a mesh system actually", slots={"diag_active": wifi_at_status_led(guides)})

    events, messages = await run(ActionDiagnosticStep(), tracker)

    assert messages == [step_message(guides, "wifi_drops", "mesh_led")]
    expected = guide_state(guides, "wifi_drops", "mesh_led", [("which_device", "A mesh kit")], "mesh")
    assert events == [SlotSet("diag_active", expected), SlotSet("diag_paused", [])]


async def test_an_answer_not_understood_twice_also_offers_a_person(offline_services: Services, guides: Guides) -> None:
    first = make_tracker("purple, I think", slots={"diag_active": wifi_at_status_led(guides)})
    events, messages = await run(ActionDiagnosticStep(), first)
    assert messages == [said("utter_diag_not_understood"), step_message(guides, "wifi_drops", "status_led")]
    assert events == [SlotSet("diag_active", wifi_at_status_led(guides, misses=1)), SlotSet("diag_paused", [])]

    second = make_tracker("hmm, greenish", slots={"diag_active": wifi_at_status_led(guides, misses=1)})
    events, messages = await run(ActionDiagnosticStep(), second)
    assert messages == [
        said("utter_diag_not_understood"),
        step_message(guides, "wifi_drops", "status_led", offer_person=True),
    ]
    assert events == [SlotSet("diag_active", wifi_at_status_led(guides, misses=2)), SlotSet("diag_paused", [])]


async def test_a_fix_ends_the_guide_and_asks_for_a_rating(offline_services: Services, guides: Guides) -> None:
    other = paused_entry(guides, "no_power", "which_device")
    active = guide_state(guides, "wifi_drops", "internet_down", [ROUTER, ("status_led", "Blinking orange")], "router")
    tracker = make_tracker("that fixed it", slots={"diag_active": active, "diag_paused": [other]})

    events, messages = await run(ActionDiagnosticStep(), tracker)

    assert messages == [said(text=guides["wifi_drops"].nodes["fixed"].text)]
    assert messages[0]["text"].startswith("Great, your Wi-Fi is stable again!")
    assert events == [
        SlotSet("diag_active", None),
        SlotSet("diag_paused", [other]),
        FollowupAction("action_ask_bot_csat"),  # once per conversation, then "anything else?"
    ]
    recorded = offline_services.analytics.events  # type: ignore[attr-defined]
    assert [(e.kind, e.topic, e.attrs.get("step")) for e in recorded] == [
        ("guide_resolved", "wifi_drops", "internet_down")
    ]


async def test_a_guide_records_its_start_and_each_step_reached(offline_services: Services, guides: Guides) -> None:
    started, _ = await run(ActionDiagnosticStart(), make_tracker("my wifi keeps dropping", "problem_wifi_drops"))
    active = next(e["value"] for e in started if e.get("name") == "diag_active")
    await run(ActionDiagnosticStep(), make_tracker("a router", slots={"diag_active": active}))

    recorded = offline_services.analytics.events  # type: ignore[attr-defined]
    assert [(e.kind, e.topic, e.attrs.get("step")) for e in recorded] == [
        ("guide_started", "wifi_drops", None),
        ("guide_step", "wifi_drops", "which_device"),
        ("guide_step", "wifi_drops", "status_led"),
    ]


async def test_a_guide_that_runs_out_of_steps_hands_over_with_the_path(services: Services, guides: Guides) -> None:
    path = [ROUTER, ("status_led", "It's off")]
    tracker = make_tracker(
        "still off",
        customer_id="C1004",
        slots={"diag_active": guide_state(guides, "wifi_drops", "led_off", path, "router")},
    )

    events, messages = await run(ActionDiagnosticStep(), tracker)

    assert messages == [said(text=guides["wifi_drops"].nodes["handoff_power"].text)]
    assert events == [SlotSet("diag_active", None), SlotSet("diag_paused", [])]
    [handoff] = handoff_rows(services.engine)
    assert (handoff["conversation_id"], handoff["reason"], handoff["status"]) == (
        CONVERSATION,
        "diagnostics_exhausted",
        "open",
    )
    packet = handoff["packet"]
    assert packet["troubleshooting"] == {
        "guide": "wifi_drops",
        "guide_title": WIFI_TITLE,
        "ended_at": "handoff_power",
        "device": "router",
        "path": [
            {"step": "which_device", "answer": "A router"},
            {"step": "status_led", "answer": "It's off"},
            {"step": "led_off", "answer": "Still off"},
        ],
    }
    assert packet["summary"] == (
        "The troubleshooting guide ran out of steps during the Wi-Fi keeps dropping guide "
        "(3 steps: which_device: A router, status_led: It's off, led_off: Still off). Last message: 'still off'."
    )
    assert packet["customer"]["id"] == "C1004"


async def test_an_answer_without_a_running_guide_says_there_is_nothing_to_continue(offline_services: Services) -> None:
    events, messages = await run(ActionDiagnosticStep(), make_tracker('/diag_choose{"option":"1"}', "diag_choose"))

    assert messages == [said("utter_diag_nothing_to_resume")]
    assert events == [SlotSet("diag_active", None), SlotSet("diag_paused", [])]


# -- action_diagnostic_resume -----------------------------------------------------------------


async def test_resume_by_button_goes_back_to_the_named_guide(offline_services: Services, guides: Guides) -> None:
    wifi = paused_entry(guides, "wifi_drops", "status_led", [ROUTER], "router")
    power = paused_entry(guides, "no_power", "which_device")
    tracker = make_tracker(
        '/resume_diagnostic{"guide":"wifi_drops"}',
        "resume_diagnostic",
        entities=[("guide", "wifi_drops")],
        slots={"diag_paused": [power, wifi]},
    )

    events, messages = await run(ActionDiagnosticResume(), tracker)

    assert messages == [said("utter_diag_resumed", guide=WIFI_TITLE), step_message(guides, "wifi_drops", "status_led")]
    assert events == [SlotSet("diag_active", wifi_at_status_led(guides)), SlotSet("diag_paused", [power])]


async def test_resume_by_text_finds_the_guide_it_mentions(offline_services: Services, guides: Guides) -> None:
    wifi = paused_entry(guides, "wifi_drops", "status_led", [ROUTER], "router")
    power = paused_entry(guides, "no_power", "which_device")
    tracker = make_tracker("back to my wifi problem", "resume_diagnostic", slots={"diag_paused": [power, wifi]})

    events, messages = await run(ActionDiagnosticResume(), tracker)

    assert messages[0] == said("utter_diag_resumed", guide=WIFI_TITLE)
    assert events == [SlotSet("diag_active", wifi_at_status_led(guides)), SlotSet("diag_paused", [power])]


async def test_resume_with_nothing_left_says_so(offline_services: Services) -> None:
    events, messages = await run(ActionDiagnosticResume(), make_tracker("back to my problem", "resume_diagnostic"))

    assert messages == [said("utter_diag_nothing_to_resume")]
    assert events == [SlotSet("diag_active", None), SlotSet("diag_paused", [])]


# -- action_diagnostic_stop -------------------------------------------------------------------


async def test_stop_puts_the_guide_on_hold_with_a_way_back(offline_services: Services, guides: Guides) -> None:
    tracker = make_tracker("forget it", "stop", slots={"diag_active": wifi_at_status_led(guides)})

    events, messages = await run(ActionDiagnosticStop(), tracker)

    assert messages == [said("utter_diag_paused", buttons=[BACK_TO_WIFI], guide=WIFI_TITLE)]
    assert events == [
        SlotSet("diag_active", None),
        SlotSet("diag_paused", [paused_entry(guides, "wifi_drops", "status_led", [ROUTER], "router")]),
    ]


async def test_stop_without_a_running_guide_just_says_ok(offline_services: Services) -> None:
    events, messages = await run(ActionDiagnosticStop(), make_tracker("forget it", "stop"))

    assert messages == [said("utter_ok")]
    assert events == [SlotSet("diag_active", None), SlotSet("diag_paused", [])]


async def test_start_answer_stop_and_resume_round_trip(offline_services: Services, guides: Guides) -> None:
    slots: dict[str, Any] = {}

    def apply(events: list[dict[str, Any]]) -> None:
        slots.update({e["name"]: e["value"] for e in events if e["event"] == "slot"})

    apply(
        (await run(ActionDiagnosticStart(), make_tracker("wifi keeps dropping", "problem_wifi_drops", slots=slots)))[0]
    )
    apply((await run(ActionDiagnosticStep(), make_tracker("router", slots=slots)))[0])
    apply((await run(ActionDiagnosticStop(), make_tracker("never mind", "stop", slots=slots)))[0])
    assert slots == {
        "diag_active": None,
        "diag_paused": [paused_entry(guides, "wifi_drops", "status_led", [ROUTER], "router")],
    }

    events, messages = await run(ActionDiagnosticResume(), make_tracker("back to it", "resume_diagnostic", slots=slots))

    assert messages == [said("utter_diag_resumed", guide=WIFI_TITLE), step_message(guides, "wifi_drops", "status_led")]
    assert events == [SlotSet("diag_active", wifi_at_status_led(guides)), SlotSet("diag_paused", [])]
