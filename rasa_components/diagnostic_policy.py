"""A dialogue policy that keeps a running troubleshooting guide in charge of the conversation.

While a guide runs (slot ``diag_active``), every customer message is an answer to the current
step — a button, "yes it's blinking orange", "done that" — or takes back the previous
step's answer ("sorry, I meant a mesh kit"), and goes to ``action_diagnostic_step``,
whatever intent the NLU guessed for it. Three kinds of message leave the guide to the
other policies instead:

* an *interruption* (``request_human``, ``stop`` ... — configurable): the rules
  handle it, e.g. pause the guide or hand over to a person;
* a *question on the side* (``aside_intents``: a product's price, stock, specs,
  compatibility) with at least ``topic_confidence``: ``action_diagnostic_aside`` answers it
  and shows the step again; the guide does not move;
* an *unrelated question*: an intent that is neither an answer-like intent nor the guide's
  own problem, predicted with at least ``topic_confidence``, and text that matches none of
  the step's options. The policy pauses the guide (the rules then answer the question) and
  the customer can come back with "back to my wifi problem".

A question on the side that starts by leaving ("never mind, how much is the AX1800?") pauses
the guide instead, so the answer comes with a way back and the step is not asked again.
``start_over`` about the chat itself ("can we start this whole chat over?") is left to the
rules, which ask before starting over.

Otherwise ``start_over`` is an answer inside a guide: "I already restarted the router" reports a step done,
it does not ask to start the conversation over.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet
from rasa.shared.core.generator import TrackerWithCachedStates

from bot.core.phrasing import is_question, leaves
from bot.diagnostics.matching import match_option
from bot.diagnostics.state import corrects_previous, current_options

ACTIVE_SLOT = "diag_active"
PAUSED_SLOT = "diag_paused"
STEP_ACTION = "action_diagnostic_step"
ASIDE_ACTION = "action_diagnostic_aside"
#: Above RulePolicy (6), and confidence 1.1 like MemoizationPolicy, so a running guide wins.
CONFIDENCE = 1.1


#: Words that make a start_over message about the conversation, not about restarting a device.
CHAT_RESTART = re.compile(r"\b(chat|conversation|from scratch|from the (start|beginning)|all over)\b", re.IGNORECASE)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class DiagnosticFlowPolicy(Policy):
    """Routes messages to the running troubleshooting guide (see the module docstring)."""

    @staticmethod
    def supported_data() -> SupportedData:
        """Needs no training data."""
        return SupportedData.ML_DATA

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Defaults; every key can be overridden in ``config.yml``."""
        return {
            "priority": 7,
            "topic_confidence": 0.6,
            "interrupt_intents": ["request_human", "frustrated", "stop", "resume_diagnostic", "restart_cancel"],
            "answer_intents": ["affirm", "deny", "diag_choose", "nlu_fallback", "thanks", "chitchat", "start_over"],
            "aside_intents": [
                "ask_product_price",
                "ask_product_availability",
                "ask_product_specs",
                "ask_product_compatibility",
                "ask_product_compare",
            ],
            "step_action": STEP_ACTION,
            "aside_action": ASIDE_ACTION,
        }

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        """Nothing to learn: the guides are data read by the action server."""
        return self._resource

    def _decide(self, tracker: Any) -> tuple[str | None, list[SlotSet]]:
        """Return the action to predict (or ``None`` to abstain) and events to apply regardless."""
        active = tracker.get_slot(ACTIVE_SLOT)
        latest_action = tracker.latest_action_name
        step_action = self.config["step_action"]
        if latest_action in (step_action, self.config["aside_action"]):
            return ACTION_LISTEN_NAME, []
        if not active or latest_action != ACTION_LISTEN_NAME or tracker.latest_message is None:
            return None, []
        message = tracker.latest_message
        intent = (message.intent or {}).get("name")
        confidence = float((message.intent or {}).get("confidence") or 0.0)
        text = message.text or ""
        aside = intent in self.config["aside_intents"] and confidence >= self.config["topic_confidence"]
        if aside and leaves(text):
            # "never mind, how much is the AX1800?": the customer leaves the guide (a way back is offered).
            return None, self._pause(tracker, active)
        if intent == "start_over" and CHAT_RESTART.search(text):
            # "can we start this whole chat over?" asks to start over (confirmed first); "I already
            # restarted the router" stays an answer to the step.
            return None, []
        if aside and is_question(text):
            # A question on the side ("how much is the Mesh Duo?"), even if it names a step's option
            # ("a mesh kit"): answered, and the step asked again.
            return self.config["aside_action"], []
        if intent == "diag_choose" or match_option(text, current_options(active)) is not None:
            return step_action, []
        if corrects_previous(active, text) and not self._after_aside(tracker):
            # "sorry, I meant a mesh kit": the step goes back and takes the other answer, even when
            # the NLU reads the product named as a topic of its own. Right after a question on the
            # side, "sorry, I meant the trio" corrects that question instead.
            return step_action, []
        if intent in self.config["interrupt_intents"]:
            return None, []
        if aside:
            return self.config["aside_action"], []
        unrelated = (
            intent not in self.config["answer_intents"]
            and intent != active.get("intent")
            and confidence >= self.config["topic_confidence"]
        )
        if unrelated:
            return None, self._pause(tracker, active)
        return step_action, []

    @staticmethod
    def _pause(tracker: Any, active: dict[str, Any]) -> list[SlotSet]:
        """Pause the running guide (first among the paused ones) so that another request can be answered."""
        paused = [item for item in (tracker.get_slot(PAUSED_SLOT) or []) if item.get("guide") != active.get("guide")]
        entry = {key: value for key, value in active.items() if key not in ("options", "previous", "intent")}
        return [SlotSet(ACTIVE_SLOT, None), SlotSet(PAUSED_SLOT, [entry, *paused])]

    def _after_aside(self, tracker: Any) -> bool:
        """Whether the bot's last turn answered a question on the side."""
        last = tracker.get_last_event_for(ActionExecuted, action_names_to_exclude=[ACTION_LISTEN_NAME])
        return last is not None and last.action_name == self.config["aside_action"]

    def predict_action_probabilities(
        self,
        tracker: Any,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Predict the step action or ``action_listen`` while a guide runs; abstain otherwise."""
        action, events = self._decide(tracker)
        probabilities = self._default_predictions(domain)
        if action is not None:
            probabilities[domain.index_for_action(action)] = CONFIDENCE
        return self._prediction(probabilities, events=events or None)
