"""bench/request_types.py: the scoring and the question file's shape."""

from __future__ import annotations

import yaml

from bench.request_types import ACCEPTED, QUESTIONS, load_questions, score
from bot.settings import PROJECT_ROOT


def test_right_unsure_and_confidently_wrong_are_told_apart() -> None:
    types = {"cancel_order": ["cancel it", "stop my order", "hm"], "contact_person": ["agent"]}
    parsed = [
        {"name": "order_cancel", "confidence": 0.9},
        {"name": "nlu_fallback", "confidence": 0.4},
        {"name": "order_status", "confidence": 0.8},
        {"name": "request_human", "confidence": 0.99},
    ]
    result = score(types, parsed)
    assert (result["right"], result["unsure"], result["wrong"]) == (0.5, 0.25, 0.25)
    assert result["per_type"]["cancel_order"]["wrong_examples"] == [
        {"q": "hm", "got": "order_status", "confidence": 0.8}
    ]


def test_every_request_type_is_served_by_intents_the_bot_has_and_has_messages() -> None:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    for intents in ACCEPTED.values():
        assert intents <= set(domain["intents"])
    types = load_questions(QUESTIONS)
    assert all(len(messages) >= 12 for messages in types.values())
