"""FollowUpPolicy: a short follow-up of a product answer or an order is the same question again."""

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

from bot.settings import PROJECT_ROOT
from rasa_components.follow_up_policy import FollowUpPolicy

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))
PRICE_ANSWER = [
    ActionExecuted(ACTION_LISTEN_NAME),
    UserUttered("how much is the mesh duo?", intent={"name": "ask_product_price", "confidence": 0.95}),
    ActionExecuted("action_product_lookup"),
    SlotSet("product_question", "price"),
    SlotSet("product_sku", "NM-DUO-EU"),
]


@pytest.fixture
def policy(tmp_path: Path) -> FollowUpPolicy:
    config = {**FollowUpPolicy.get_default_config(), "data_dir": str(PROJECT_ROOT / "data")}
    context = ExecutionContext(GraphSchema({}), "test")
    return FollowUpPolicy.create(config, LocalModelStorage(tmp_path), Resource("follow-up"), context)


def tracker(history: list[Any], text: str, intent: str = "nlu_fallback", confidence: float = 0.4) -> Any:
    events = [
        *history,
        ActionExecuted(ACTION_LISTEN_NAME),
        UserUttered(text, intent={"name": intent, "confidence": confidence}),
    ]
    return DialogueStateTracker.from_events("policy-test", events, slots=DOMAIN.slots)


def predicted(policy: FollowUpPolicy, state: Any) -> str | None:
    prediction = policy.predict_action_probabilities(state, DOMAIN)
    if max(prediction.probabilities) <= 0:
        return None
    return DOMAIN.action_names_or_texts[prediction.max_confidence_index]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("oops, the trio not the duo", "deny"),
        ("how about the satellite?", "give_feedback"),
        ("and hamburg?", "ask_store_info"),
        ("no no, the velo ax3000 i mean", "deny"),
    ],
)
def test_a_follow_up_of_a_product_answer_asks_the_product_lookup(
    policy: FollowUpPolicy, text: str, intent: str
) -> None:
    assert predicted(policy, tracker(PRICE_ANSWER, text, intent, 0.9)) == "action_product_lookup"


def test_other_messages_and_other_moments_are_left_to_the_rules(policy: FollowUpPolicy) -> None:
    greeted = [*PRICE_ANSWER, ActionExecuted(ACTION_LISTEN_NAME), UserUttered("hi"), ActionExecuted("utter_greet")]
    assert predicted(policy, tracker(greeted, "and the trio?")) is None  # not right after the answer
    assert predicted(policy, tracker(PRICE_ANSWER, "and where is my order?")) is None  # names no product
    assert predicted(policy, tracker(PRICE_ANSWER, "is it wifi 7?")) is None  # the same product: its intent
    assert predicted(policy, tracker(PRICE_ANSWER, "and the trio?", "request_human", 0.9)) is None
    in_guide = [*PRICE_ANSWER, SlotSet("diag_active", {"guide": "wifi_drops"})]
    assert predicted(policy, tracker(in_guide, "and the trio?")) is None


def test_listens_after_the_lookup(policy: FollowUpPolicy) -> None:
    after = DialogueStateTracker.from_events("policy-test", PRICE_ANSWER, slots=DOMAIN.slots)
    assert predicted(policy, after) == ACTION_LISTEN_NAME


def test_another_order_number_after_a_status_or_a_refused_request(policy: FollowUpPolicy) -> None:
    status = [
        ActionExecuted(ACTION_LISTEN_NAME),
        UserUttered("where is my order 190001?", intent={"name": "order_status", "confidence": 0.9}),
        ActionExecuted("action_order_status"),
    ]
    refused = [
        ActionExecuted(ACTION_LISTEN_NAME),
        UserUttered("cancel order 190009", intent={"name": "order_cancel", "confidence": 0.9}),
        ActionExecuted("action_service_start"),
        SlotSet("ss_last_kind", "order_cancel"),
    ]
    assert predicted(policy, tracker(status, "no sorry, the order 190002")) == "action_order_status"
    assert predicted(policy, tracker(refused, "oh sorry, I meant 190010")) == "action_service_start"
    assert predicted(policy, tracker(refused, "my bad, I meant order 190022")) == "action_service_start"
    assert predicted(policy, tracker(refused, "190010")) is None  # no correction: the rules decide
