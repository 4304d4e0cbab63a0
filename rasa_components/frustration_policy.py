"""A dialogue policy that hands a visibly frustrated customer to a person, whatever the intent.

The NLU's ``frustrated`` intent misses frustration that is in *how* something is said:
SHOUTING, "!!!", phrases like "useless", or the same request for the third time in a row.
On each new customer message this policy asks :func:`bot.handoff.frustration.is_frustrated`
(phrases and thresholds from ``data/handoff.yml``) and, when it fires, predicts
``action_frustration_handoff`` above every other policy (also above a running guide);
after that action it predicts ``action_listen``. It abstains otherwise, and on intents the
rules already answer with a person (``request_human``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates

from bot.handoff.config import DEFAULT_PATH, load_handoff_config
from bot.handoff.frustration import is_frustrated

HANDOFF_ACTION = "action_frustration_handoff"
PROJECT_DIR = Path(__file__).resolve().parent.parent
#: Like MemoizationPolicy's and DiagnosticFlowPolicy's; the higher priority wins the tie.
CONFIDENCE = 1.1


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class FrustrationPolicy(Policy):
    """Predicts the frustration handoff on a frustrated-sounding message (see the module docstring)."""

    @staticmethod
    def supported_data() -> SupportedData:
        """Needs no training data."""
        return SupportedData.ML_DATA

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Defaults; every key can be overridden in ``config.yml``."""
        return {
            "priority": 8,
            "config_path": str(DEFAULT_PATH),
            "ignore_intents": ["request_human", "start_over"],
            "handoff_action": HANDOFF_ACTION,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> None:
        """Read the frustration rules from ``config_path`` (relative to the working directory, else the project)."""
        super().__init__(config, model_storage, resource, execution_context, **kwargs)
        path = Path(self.config["config_path"])
        if not path.is_absolute() and not path.exists():
            path = PROJECT_DIR / path
        self._rules = load_handoff_config(path).frustration

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        """Nothing to learn: the rules are data."""
        return self._resource

    def _decide(self, tracker: Any) -> str | None:
        action = self.config["handoff_action"]
        latest_action = tracker.latest_action_name
        if latest_action == action:
            return ACTION_LISTEN_NAME
        message = tracker.latest_message
        if latest_action != ACTION_LISTEN_NAME or message is None or not message.text:
            return None
        if (message.intent or {}).get("name") in self.config["ignore_intents"]:
            return None
        texts = [event.text or "" for event in tracker.events if isinstance(event, UserUttered)]
        previous = texts[:-1] if texts and texts[-1] == message.text else texts
        return action if is_frustrated(message.text, previous, self._rules) is not None else None

    def predict_action_probabilities(
        self,
        tracker: Any,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Predict the frustration handoff (or ``action_listen`` after it); abstain otherwise."""
        action = self._decide(tracker)
        probabilities = self._default_predictions(domain)
        if action is not None:
            probabilities[domain.index_for_action(action)] = CONFIDENCE
        return self._prediction(probabilities)
