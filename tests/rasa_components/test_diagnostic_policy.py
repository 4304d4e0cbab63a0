"""DiagnosticFlowPolicy: which messages go to the running guide, which leave it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.diagnostics import load_guides
from bot.diagnostics.engine import option_payload
from bot.diagnostics.flow import answer, start
from bot.settings import PROJECT_ROOT
from rasa_components.diagnostic_policy import DiagnosticFlowPolicy

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))
GUIDES = load_guides(PROJECT_ROOT / "data" / "diagnostics")
WIFI = start(GUIDES, "problem_wifi_drops", None, []).active
#: The Wi-Fi guide after "A router": at the status LED, the device question answered just before.
AT_STATUS_LED = answer(GUIDES, option_payload(1), WIFI, []).active


@pytest.fixture
def policy(tmp_path: Path) -> DiagnosticFlowPolicy:
    config = {**DiagnosticFlowPolicy.get_default_config()}
    context = ExecutionContext(GraphSchema({}), "test")
    return DiagnosticFlowPolicy.create(config, LocalModelStorage(tmp_path), Resource("flow"), context)


def tracker(text: str, intent: str, confidence: float = 0.95, active: Any = WIFI, after: str | None = None) -> Any:
    events = [
        SlotSet("diag_active", active),
        ActionExecuted(ACTION_LISTEN_NAME),
        UserUttered(text, intent={"name": intent, "confidence": confidence}),
    ]
    if after:
        events.append(ActionExecuted(after))
    return DialogueStateTracker.from_events("policy-test", events, slots=DOMAIN.slots)


def predicted(policy: DiagnosticFlowPolicy, state: Any) -> tuple[str | None, list[Any]]:
    prediction = policy.predict_action_probabilities(state, DOMAIN)
    if max(prediction.probabilities) <= 0:
        return None, prediction.events
    return DOMAIN.action_names_or_texts[prediction.max_confidence_index], prediction.events


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("a router", "affirm"),
        ("it's the mesh duo", "ask_product_specs"),  # an option synonym wins over a confident topic intent
        ('/diag_choose{"option":"2"}', "diag_choose"),
        ("the second one", "diag_choose"),
        ("hmm not sure", "nlu_fallback"),
        ("my wifi keeps dropping", "problem_wifi_drops"),  # the guide's own problem: an answer attempt
        ("what's that", "out_of_scope"),  # not confident enough to leave
    ],
)
def test_answers_go_to_the_step(policy: DiagnosticFlowPolicy, text: str, intent: str) -> None:
    confidence = 0.4 if intent == "out_of_scope" else 0.95
    action, events = predicted(policy, tracker(text, intent, confidence))
    assert action == "action_diagnostic_step" and not events


@pytest.mark.parametrize("intent", ["request_human", "frustrated", "stop", "resume_diagnostic"])
def test_interruptions_are_left_to_the_rules(policy: DiagnosticFlowPolicy, intent: str) -> None:
    action, events = predicted(policy, tracker("get me out of here", intent))
    assert action is None and not events


def test_i_already_restarted_it_is_an_answer_not_a_reset(policy: DiagnosticFlowPolicy) -> None:
    action, events = predicted(policy, tracker("i already restarted the router", "start_over", 0.9))
    assert action == "action_diagnostic_step" and not events


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("how much is the mesh duo", "ask_product_price"),
        ("is it in stock in berlin", "ask_product_availability"),
        ("does the velo ax3000 do wifi 6?", "ask_product_specs"),
    ],
)
def test_a_question_on_the_side_is_answered_and_the_guide_stays(
    policy: DiagnosticFlowPolicy, text: str, intent: str
) -> None:
    action, events = predicted(policy, tracker(text, intent, 0.9))
    assert action == "action_diagnostic_aside" and not events
    assert predicted(policy, tracker("a router", "affirm", after="action_diagnostic_aside"))[0] == ACTION_LISTEN_NAME


def test_a_confident_unrelated_question_pauses_the_guide(policy: DiagnosticFlowPolicy) -> None:
    action, events = predicted(policy, tracker("where is my order", "order_status", 0.9))
    assert action is None
    slots = {event.key: event.value for event in events}
    assert slots["diag_active"] is None
    assert slots["diag_paused"][0]["guide"] == "wifi_drops" and slots["diag_paused"][0]["node"] == "which_device"


def test_a_question_after_leaving_words_pauses_the_guide(policy: DiagnosticFlowPolicy) -> None:
    action, events = predicted(policy, tracker("never mind, how much is the ax1800?", "ask_product_price", 0.9))
    assert action is None  # the rules answer it; the product answer offers the way back
    slots = {event.key: event.value for event in events}
    assert slots["diag_active"] is None and slots["diag_paused"][0]["guide"] == "wifi_drops"


def test_starting_the_chat_over_is_left_to_the_rules(policy: DiagnosticFlowPolicy) -> None:
    action, events = predicted(policy, tracker("can we start this whole chat over please", "start_over", 0.9))
    assert action is None and not events
    assert predicted(policy, tracker("restarted it already", "start_over", 0.9))[0] == "action_diagnostic_step"


def test_listens_after_the_step_and_abstains_without_a_guide(policy: DiagnosticFlowPolicy) -> None:
    assert predicted(policy, tracker("a router", "affirm", after="action_diagnostic_step"))[0] == ACTION_LISTEN_NAME
    assert predicted(policy, tracker("a router", "affirm", active=None)) == (None, [])
    assert predicted(policy, tracker("hi", "greet", after="utter_greet"))[0] is None


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("sorry, I meant the mesh duo", "ask_product_specs"),  # names a product, but takes back "A router"
        ("oh wait, it's a range extender", "order_status"),
        ("it's not a router, it's a mesh", "ask_product_availability"),
    ],
)
def test_a_correction_of_the_previous_answer_goes_to_the_step(
    policy: DiagnosticFlowPolicy, text: str, intent: str
) -> None:
    action, events = predicted(policy, tracker(text, intent, 0.9, active=AT_STATUS_LED))
    assert action == "action_diagnostic_step" and not events


def test_a_cue_alone_is_no_correction(policy: DiagnosticFlowPolicy) -> None:
    action, events = predicted(policy, tracker("sorry, where is my order", "order_status", 0.9, active=AT_STATUS_LED))
    assert action is None
    slots = {event.key: event.value for event in events}
    assert slots["diag_active"] is None
    assert slots["diag_paused"][0]["node"] == "status_led"
    assert "previous" not in slots["diag_paused"][0] and "options" not in slots["diag_paused"][0]


def test_right_after_a_question_on_the_side_a_correction_is_about_that_question(policy: DiagnosticFlowPolicy) -> None:
    events = [
        SlotSet("diag_active", AT_STATUS_LED),
        ActionExecuted(ACTION_LISTEN_NAME),
        UserUttered("how much is the mesh duo?", intent={"name": "ask_product_price", "confidence": 0.9}),
        ActionExecuted("action_diagnostic_aside"),
        ActionExecuted(ACTION_LISTEN_NAME),
        UserUttered("sorry, I meant the mesh trio", intent={"name": "ask_product_price", "confidence": 0.9}),
    ]
    state = DialogueStateTracker.from_events("policy-test", events, slots=DOMAIN.slots)
    assert predicted(policy, state) == ("action_diagnostic_aside", [])
