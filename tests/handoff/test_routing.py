"""Routing rules (data/routing.yml), the customer's language, and canned replies as data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.handoff.canned import CannedRepliesError, fill, load_canned_replies, packet_device, packet_order
from bot.handoff.language import customer_language, detect_language, language_code
from bot.handoff.routing import RoutingError, load_routing
from bot.settings import PROJECT_ROOT

RULES = load_routing(PROJECT_ROOT / "data" / "routing.yml")


def packet(
    *intents: str, reason: str = "customer_request", guide: str | None = None, action: str | None = None
) -> dict[str, Any]:
    return {
        "reason": reason,
        "intents": [{"text": "…", "ranking": [{"intent": name, "confidence": 0.9}]} for name in intents],
        "troubleshooting": {"guide": guide} if guide else None,
        "action": action,
    }


@pytest.mark.parametrize(
    ("given", "queue"),
    [
        (packet("greet", "billing_question", "request_human"), "billing"),  # the topic before "a person please"
        (packet("problem_payment_failed", "frustrated"), "billing"),
        (packet("order_return", "request_human"), "returns"),
        (packet("order_status"), "orders"),
        (packet("request_human"), "general"),  # no topic at all
        (packet(reason="diagnostics_exhausted", guide="wifi_drops"), "setup"),
        (packet("billing_question", reason="diagnostics_exhausted", guide="no_power"), "hardware"),  # the guide wins
        (packet("greet", reason="order_change"), "orders"),
        (packet("chitchat", "nlu_fallback"), "general"),
    ],
)
def test_each_handoff_gets_the_queue_of_its_topic(given: dict[str, Any], queue: str) -> None:
    assert RULES.queue_for(given) == queue


def test_every_queue_but_the_default_needs_its_skill() -> None:
    assert RULES.skill_of("billing") == "billing"
    assert RULES.skill_of("general") is None
    assert RULES.skill_of("no-such-queue") is None  # counts as the default queue
    assert set(RULES.queues) == {"orders", "returns", "billing", "hardware", "setup", "subscriptions", "general"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("default_queue: general", "default_queue: nowhere"), "default_queue"),
        (("  - queue: returns\n", "  - queue: refunds\n"), "unknown queue 'refunds'"),
        (("offer_seconds: 60", "offer_seconds: -1"), "offer_seconds"),
        (("offer_seconds: 60", "offer_seconds: soon"), "offer_seconds"),
        (("    guides: [payment_failed]\n", "    guides: payment_failed\n"), "guides must be a list"),
        (("  - id: orders\n", "  - id: orders\n  - id: orders\n"), "listed twice"),
        (("heartbeat_timeout_seconds: 90", "heartbeat_timeout_seconds: 90\nsurprise: 1"), "unknown key"),
        (("rules:", "rules: [{queue: general}]\nold_rules:"), "matches nothing|unknown key"),
        (("queues:", "queues: [\n"), "invalid YAML"),
    ],
)
def test_broken_routing_files_are_refused_clearly(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = (PROJECT_ROOT / "data" / "routing.yml").read_text(encoding="utf-8")
    assert change[0] in text
    path = tmp_path / "routing.yml"
    path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(RoutingError, match=message):
        load_routing(path)


def test_a_missing_routing_file_is_named() -> None:
    with pytest.raises(RoutingError, match="cannot read"):
        load_routing(Path("/nonexistent/routing.yml"))


@pytest.mark.parametrize(
    ("texts", "language"),
    [
        (["Ich habe eine Frage zu meiner Rechnung"], "de"),
        (["Hallo, warum wurde meine Zahlung abgelehnt?"], "de"),
        (["Bonjour, je ne comprends pas ma facture"], "fr"),
        (["Hi, I have a question about my invoice"], None),
        (["Das"], None),  # one word is not enough
        ([], None),
    ],
)
def test_the_language_of_the_customers_words(texts: list[str], language: str | None) -> None:
    assert detect_language(texts) == language


def test_a_channels_language_wins_unless_it_is_english() -> None:
    assert language_code("de-AT") == "de"
    assert language_code("pt_BR") == "pt"
    assert language_code("klingon!") is None
    assert language_code(None) is None
    assert customer_language("de", ["hello there"]) == "de"
    assert customer_language("en-GB", ["Ich habe eine Frage zu meiner Rechnung"]) == "de"
    assert customer_language("en", ["hello"]) == "en"
    assert customer_language(None, ["hello"]) is None


def test_canned_replies_are_filled_from_the_packet() -> None:
    replies = {r.id: r for r in load_canned_replies(PROJECT_ROOT / "data" / "canned_replies.yml")}
    filled = fill(replies["order_looking"], {"customer_name": "Mia", "order": "NN-10042"})
    assert filled.text.startswith("Thanks, Mia. I'm checking order NN-10042 ")
    assert filled.missing == ()
    unfilled = fill(replies["device_reset"], {"customer_name": "Mia"})
    assert unfilled.missing == ("device",)
    assert "{device}" in unfilled.text
    told = {
        "known": {"order": "NN-1", "product": "VELO-AX3000"},
        "customer": {"summary": {"latest_order": {"number": "NN-9"}}},
    }
    assert packet_order(told) == "NN-1"
    assert packet_order({"customer": {"summary": {"latest_order": {"number": "NN-9"}}}}) == "NN-9"
    assert packet_order({}) is None
    assert packet_device({"troubleshooting": {"device": "Velo AX3000"}}) == "Velo AX3000"
    assert packet_device(told) == "VELO-AX3000"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("replies:\n  - {id: a, title: A, text: 'Hi {nickname}'}\n", "unknown placeholder"),
        ("replies:\n  - {id: a, title: A, text: 'Hi {customer_name'}\n", "broken braces"),
        ("replies:\n  - {id: a, title: A, text: x}\n  - {id: a, title: B, text: y}\n", "used twice"),
        ("replies:\n  - {id: A!, title: A, text: x}\n", "id must be"),
        ("replies: nope\n", "expected a mapping"),
    ],
)
def test_broken_canned_replies_are_refused_clearly(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "canned_replies.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CannedRepliesError, match=message):
        load_canned_replies(path)
