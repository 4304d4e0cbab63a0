"""FrustrationPolicy: a frustrated-sounding message goes to a person, whatever its intent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.settings import PROJECT_ROOT
from rasa_components.frustration_policy import FrustrationPolicy

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture
def policy(tmp_path: Path) -> FrustrationPolicy:
    config = {**FrustrationPolicy.get_default_config(), "config_path": str(PROJECT_ROOT / "data" / "handoff.yml")}
    context = ExecutionContext(GraphSchema({}), "test")
    return FrustrationPolicy.create(config, LocalModelStorage(tmp_path), Resource("frustration"), context)


def tracker(*texts: str, intent: str = "order_status", after: str | None = None) -> Any:
    events: list[Any] = []
    for text in texts:
        events += [ActionExecuted(ACTION_LISTEN_NAME), UserUttered(text, intent={"name": intent, "confidence": 0.9})]
        events.append(ActionExecuted("utter_ok"))
    events.pop()
    if after:
        events.append(ActionExecuted(after))
    return DialogueStateTracker.from_events("policy-test", events, slots=DOMAIN.slots)


def predicted(policy: FrustrationPolicy, state: Any) -> str | None:
    prediction = policy.predict_action_probabilities(state, DOMAIN)
    if max(prediction.probabilities) <= 0:
        return None
    return DOMAIN.action_names_or_texts[prediction.max_confidence_index]


@pytest.mark.parametrize(
    "texts",
    [
        ("WHERE IS MY ORDER",),
        ("where is my order!!!",),
        ("this is ridiculous, where is my order",),
        ("where is my order", "where is my order now", "where is my order now please"),
    ],
)
def test_frustration_is_handed_over(policy: FrustrationPolicy, texts: tuple[str, ...]) -> None:
    assert predicted(policy, tracker(*texts)) == "action_frustration_handoff"


def test_calm_messages_explicit_requests_and_other_turns_abstain(policy: FrustrationPolicy) -> None:
    assert predicted(policy, tracker("where is my order")) is None
    assert predicted(policy, tracker("where is my order", "my wifi is slow")) is None
    assert predicted(policy, tracker("GET ME A HUMAN NOW", intent="request_human")) is None
    assert predicted(policy, tracker("WHERE IS MY ORDER", after="action_order_status")) is None


def test_listens_after_the_handoff(policy: FrustrationPolicy) -> None:
    assert predicted(policy, tracker("WHERE IS MY ORDER", after="action_frustration_handoff")) == ACTION_LISTEN_NAME
