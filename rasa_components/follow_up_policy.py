"""A dialogue policy that takes a short follow-up to a product answer as the same question again.

Right after the bot answered a product question, customers go on in fragments: "and the mesh
trio?", "what about Hamburg?", "sorry, I meant with the Velo", "no no, the velo ax3000 i mean".
The NLU reads such fragments as anything — a denial, feedback, a store's opening hours, or
nothing at all. When the bot's last turn answered a product question, no form or guide runs,
and the message is shaped like a follow-up (:func:`bot.catalog.answers.reads_as_follow_up`)
and names a product or one of our stores, this policy predicts ``action_product_lookup``
above the rules; the action then asks the last question again about what the message names
(``actions/catalog.py``). Intents that change the conversation's course (a person, stop,
start over) are left to the rules.

The same holds for orders: right after an order's status, a short correction with another
order number ("no sorry, the order 190002") asks for that order's status; right after a
self-service request was refused or asked about ("oh sorry, I meant 190010", "my bad, I meant
order 190022") it starts the same request again with that order (``action_service_start``
takes the kind from the slot ``ss_last_kind``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates

from bot.catalog.answers import FOLLOW_UP_MAX_WORDS, ProductAnswers, reads_as_follow_up
from bot.core.phrasing import ORDER_NUMBER

LOOKUP_ACTION = "action_product_lookup"
PRODUCT_SLOTS = ("product_question",)
PROJECT_DIR = Path(__file__).resolve().parent.parent
#: Like the other policies of the project; wins over RulePolicy (1.0).
CONFIDENCE = 1.1
CORRECTION = re.compile(
    r"^\W*(?:\w+\W+){0,3}?(?:sorry|oops|my bad|i meant|i mean|meant|wrong|no|actually|wait)\b", re.IGNORECASE
)


def answered_a_product_last(events: list[Any]) -> bool:
    """Whether the bot's turn before the latest customer message set one of :data:`PRODUCT_SLOTS`."""
    users = 0
    for event in reversed(events):
        if isinstance(event, UserUttered):
            users += 1
            if users == 2:
                return False
        elif users == 1 and isinstance(event, SlotSet) and event.key in PRODUCT_SLOTS:
            return True
    return False


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class FollowUpPolicy(Policy):
    """Routes follow-ups of a product answer to the product lookup (see the module docstring)."""

    @staticmethod
    def supported_data() -> SupportedData:
        """Needs no training data."""
        return SupportedData.ML_DATA

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Defaults; every key can be overridden in ``config.yml``."""
        return {
            "priority": 7,
            "data_dir": "data",
            "keep_intents": [
                "request_human",
                "frustrated",
                "stop",
                "start_over",
                "restart_cancel",
                "resume_diagnostic",
            ],
            "lookup_action": LOOKUP_ACTION,
            "service_action": "action_service_start",
            "status_action": "action_order_status",
            "service_actions": ["action_service_start", "service_form", "action_service_submit"],
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> None:
        """Keep the configuration; the catalog is read on the first prediction."""
        super().__init__(config, model_storage, resource, execution_context, **kwargs)
        self._answers: ProductAnswers | None = None

    def _catalog(self) -> ProductAnswers:
        if self._answers is None:
            path = Path(self.config["data_dir"])
            if not path.is_absolute() and not path.exists():
                path = PROJECT_DIR / path
            self._answers = ProductAnswers.load(path)
        return self._answers

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        """Nothing to learn: the catalog is data."""
        return self._resource

    def _decide(self, tracker: Any) -> str | None:
        action = self.config["lookup_action"]
        latest_action = tracker.latest_action_name
        if latest_action == action:
            return ACTION_LISTEN_NAME
        message = tracker.latest_message
        if latest_action != ACTION_LISTEN_NAME or message is None or not message.text:
            return None
        if tracker.active_loop_name or tracker.get_slot("diag_active"):
            return None
        if (message.intent or {}).get("name") in self.config["keep_intents"]:
            return None
        corrected = self._corrected_request(tracker, message.text)
        if corrected is not None:
            return corrected
        if not reads_as_follow_up(message.text):
            return None
        if not answered_a_product_last(list(tracker.events)):
            return None
        named = any(entity.get("entity") == "product" for entity in message.entities or [])
        return action if named or self._catalog().names_product_or_store(message.text) else None

    def _corrected_request(self, tracker: Any, text: str) -> str | None:
        """The request to make again with another order number ("oh sorry, I meant 190010"), if any.

        Right after an order's status: the status of the other order. Right after a
        self-service request was refused or asked: the same request about the other order.
        """
        if len(text.split()) > FOLLOW_UP_MAX_WORDS or not ORDER_NUMBER.search(text) or not CORRECTION.match(text):
            return None
        previous = [e for e in tracker.events if isinstance(e, ActionExecuted) and e.action_name != ACTION_LISTEN_NAME]
        last = previous[-1].action_name if previous else None
        if last == self.config["status_action"]:
            return str(last)
        if last in self.config["service_actions"] and tracker.get_slot("ss_last_kind"):
            return str(self.config["service_action"])
        return None

    def predict_action_probabilities(
        self,
        tracker: Any,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Predict the product lookup for a follow-up (and ``action_listen`` after it); abstain otherwise."""
        action = self._decide(tracker)
        probabilities = self._default_predictions(domain)
        if action is not None:
            probabilities[domain.index_for_action(action)] = CONFIDENCE
        return self._prediction(probabilities)
