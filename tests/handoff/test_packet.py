"""The handoff packet built from tracker events, and the pure handoff helpers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from bot.handoff.clarify import clarify_options, low_confidence_streak
from bot.handoff.config import DEFAULT_PATH, HandoffConfigError, load_handoff_config, parse_handoff_config
from bot.handoff.csat import parse_score
from bot.handoff.frustration import is_frustrated
from bot.handoff.packet import build_packet, customer_summary
from bot.records import DeviceInfo, OrderInfo, SubscriptionInfo
from bot.settings import PROJECT_ROOT

CONFIG = load_handoff_config(PROJECT_ROOT / DEFAULT_PATH)
RULES = CONFIG.frustration


def user(text: str, intent: str, confidence: float = 0.9, at: float = 1_700_000_000.0, **ranking: float) -> dict:
    ranked = [{"name": intent, "confidence": confidence}] + [{"name": n, "confidence": c} for n, c in ranking.items()]
    return {
        "event": "user",
        "text": text,
        "timestamp": at,
        "parse_data": {"intent": {"name": intent, "confidence": confidence}, "intent_ranking": ranked},
    }


def bot(text: str, at: float = 1_700_000_001.0) -> dict:
    return {"event": "bot", "text": text, "timestamp": at}


def action(name: str) -> dict:
    return {"event": "action", "name": name}


WIFI_PATH = {
    "guide": "wifi_drops",
    "guide_title": "Wi-Fi keeps dropping",
    "ended_at": "internet_down",
    "device": "router",
    "path": [
        {"step": "which_device", "answer": "A router"},
        {"step": "status_led", "answer": "Blinking orange"},
        {"step": "internet_down", "answer": "Still dropping"},
    ],
}


def test_packet_fields() -> None:
    events = [
        action("action_listen"),
        user("my wifi keeps dropping", "problem_wifi_drops", 0.97, a=0.02, b=0.01, c=0.0),
        action("action_diagnostic_start"),
        bot("Which device?"),
        {"event": "slot", "name": "diag_active", "value": {}},
        user("talk to a person", "request_human", 0.99),
    ]
    slots = {
        "product": "Velo AX3000",
        "order_number": None,
        "diag_active": {"guide": "wifi_drops"},
        "diag_paused": [],
        "requested_slot": None,
        "link_email": "alice@example.com",
        "link_code": "123456",
        "pending_request": "action_order_status",
        "customer_token": "secret",
        "product_sku": "",
    }
    customer = {"id": "C1", "summary": {"orders": 2}}
    packet = build_packet("customer_request", "web", events, slots, WIFI_PATH, customer)
    assert set(packet) == {
        "reason", "channel", "customer", "transcript", "intents", "slots", "troubleshooting", "known", "summary",
    }  # fmt: skip
    assert packet["reason"] == "customer_request" and packet["channel"] == "web"
    assert packet["customer"] == customer
    assert [(line["sender"], line["text"]) for line in packet["transcript"]] == [
        ("customer", "my wifi keeps dropping"),
        ("bot", "Which device?"),
        ("customer", "talk to a person"),
    ]
    assert packet["transcript"][0]["at"] == dt.datetime.fromtimestamp(1_700_000_000, dt.timezone.utc).isoformat()
    first = packet["intents"][0]
    assert first["text"] == "my wifi keeps dropping"
    assert [r["intent"] for r in first["ranking"]] == ["problem_wifi_drops", "a", "b"]
    assert first["ranking"][0]["confidence"] == 0.97
    assert packet["slots"] == {"product": "Velo AX3000"}
    assert packet["troubleshooting"] == WIFI_PATH
    assert packet["summary"] == (
        "Customer asked for a person during the Wi-Fi keeps dropping guide (3 steps: which_device: A router, "
        "status_led: Blinking orange, internet_down: Still dropping). Last message: 'talk to a person'."
    )


def test_what_the_customer_already_said_is_in_the_packet_and_its_summary() -> None:
    events = [user("no sorry, the order 190002 and the velo ax3000 in berlin", "order_status", 0.9)]
    slots = {
        "last_order": "190002",
        "order_number": "190001",
        "product_sku": "NR-AX3000-EU",
        "product_stores": ["ST-BER"],
        "ss_last_kind": "order_cancel",
    }
    packet = build_packet("customer_request", "web", events, slots, None, None)
    assert packet["known"] == {
        "order": "190002",
        "product": "NR-AX3000-EU",
        "stores": ["ST-BER"],
        "request": "order_cancel",
    }
    assert (
        "Already told us: order 190002, product NR-AX3000-EU, stores ST-BER, request order_cancel."
        in (packet["summary"])
    )


def test_anonymous_packet_without_a_guide_keeps_the_last_five_intents() -> None:
    events = [user(f"message {i}", "nlu_fallback", 0.3) for i in range(7)]
    packet = build_packet("low_confidence", "telegram", events, {}, None, None)
    assert packet["customer"] is None and packet["troubleshooting"] is None
    assert [item["text"] for item in packet["intents"]] == [f"message {i}" for i in range(2, 7)]
    assert packet["summary"] == "The bot did not understand the customer. Last message: 'message 6'."


def test_summary_skips_button_payloads_and_shortens_long_messages() -> None:
    events = [user("x" * 300, "frustrated"), user("/request_human", "request_human")]
    summary = build_packet("frustration", "web", events, {}, None, None)["summary"]
    assert summary.startswith("Customer seemed frustrated. Last message: 'xxx") and summary.endswith("…'.")


def test_customer_summary() -> None:
    day = dt.date(2024, 5, 1)
    order = OrderInfo("104512", "shipped", day, 100, "EUR", None, None, None, None, ())
    device = DeviceInfo("NB-AX3-123456", "AX3", "Velo AX3000", day, day)
    plan = SubscriptionInfo("S1", "SHIELD", "Nimbus Shield", "active", None, 499, "EUR")
    assert customer_summary([order], [device, device], [plan]) == {
        "orders": 1,
        "latest_order": {"number": "104512", "status": "shipped"},
        "devices": 2,
        "plan": "Nimbus Shield",
    }
    assert customer_summary([], [], []) == {"orders": 0, "latest_order": None, "devices": 0, "plan": None}


@pytest.mark.parametrize(
    ("text", "previous", "expected"),
    [
        ("this is ridiculous", [], "phrase:ridiculous"),
        ("WHY IS MY INTERNET DOWN", [], "shouting"),
        ("where is my order!!!", [], "punctuation"),
        ("hello???", [], "punctuation"),
        ("my wifi keeps dropping out", ["my wifi keeps dropping", "wifi keeps dropping out"], "rephrasing"),
        ("my wifi keeps dropping", [], None),
        ("OK", [], None),
        ("VELO AX3000", [], None),  # two words: a model name, not shouting
        ("yes", ["yes", "yes"], None),  # short answers repeated are not rephrasing
        ("/request_human", [], None),
        ("where is my order?", ["my wifi keeps dropping", "where is my order?"], None),
    ],
)
def test_is_frustrated(text: str, previous: list[str], expected: str | None) -> None:
    assert is_frustrated(text, previous, RULES) == expected


def test_low_confidence_streak_counts_only_clarified_misses_in_a_row() -> None:
    first = [action("action_listen"), user("blorp", "nlu_fallback", 0.2)]
    assert low_confidence_streak(first) == 1
    second = [
        *first,
        action("action_clarify"),
        bot("did you mean"),
        action("action_listen"),
        user("zzz", "nlu_fallback"),
    ]
    assert low_confidence_streak(second) == 2
    reset = [*first, action("action_clarify"), user("/order_status", "order_status", 1.0), action("x")]
    assert low_confidence_streak([*reset, user("hm", "nlu_fallback")]) == 1
    in_guide = [user("hmm", "nlu_fallback"), action("action_diagnostic_step"), user("blorp", "nlu_fallback")]
    assert low_confidence_streak(in_guide) == 1
    assert low_confidence_streak([user("hi", "greet")]) == 0


def test_clarify_options_are_the_two_likeliest_titled_intents() -> None:
    parse = {
        "intent_ranking": [
            {"name": "nlu_fallback", "confidence": 0.45},
            {"name": "order_status", "confidence": 0.4},
            {"name": "greet", "confidence": 0.3},  # no title: never offered
            {"name": "request_human", "confidence": 0.2},
            {"name": "problem_wifi_drops", "confidence": 0.1},
            {"name": "billing_question", "confidence": 0.05},
        ]
    }
    titles = CONFIG.clarify_titles
    assert clarify_options(parse, titles) == [
        (titles["order_status"], "/order_status"),
        (titles["problem_wifi_drops"], "/problem_wifi_drops"),
    ]
    assert clarify_options({}, titles) == []


@pytest.mark.parametrize(
    ("entity", "text", "expected"),
    [("4", '/csat{"score":"4"}', 4), ("9", '/csat{"score":"9"}', None), (None, "4 stars", 4), (None, "it was great 5/5", 5),
     (None, "10", None), (None, "great", None)],
)  # fmt: skip
def test_parse_score(entity: Any, text: str, expected: int | None) -> None:
    assert parse_score(entity, text) == expected


def test_the_shipped_config_and_invalid_ones(tmp_path: Path) -> None:
    assert CONFIG.low_confidence_handoff_after == 2 and "useless" in RULES.phrases
    assert "request_human" in CONFIG.clarify_titles
    base = {"clarify_titles": {"request_human": "Talk to a person"}}
    assert parse_handoff_config(base).low_confidence_handoff_after == 2
    for bad in (
        [],
        {**base, "low_confidence_handoff_after": 0},
        {**base, "frustration": {"phrases": ["ok", ""]}},
        {**base, "frustration": {"shouting_upper_ratio": 1.5}},
        {"clarify_titles": {"order_status": "Track"}},
    ):
        with pytest.raises(HandoffConfigError):
            parse_handoff_config(bad)
    broken = tmp_path / "handoff.yml"
    broken.write_text("low_confidence_handoff_after: [\n")
    with pytest.raises(HandoffConfigError, match="invalid YAML"):
        load_handoff_config(broken)


def test_email_and_code_answers_are_redacted() -> None:
    events = [
        {"event": "slot", "name": "requested_slot", "value": "link_email"},
        user("alice@example.com", "nlu_fallback"),
        {"event": "slot", "name": "requested_slot", "value": "link_code"},
        user("123456", "nlu_fallback"),
        {"event": "active_loop", "name": None},
        user("where is my order", "order_status"),
    ]
    packet = build_packet("customer_request", "web", events, {}, None, None)
    assert [line["text"] for line in packet["transcript"]] == ["[redacted]", "[redacted]", "where is my order"]
    assert [item["text"] for item in packet["intents"]][:2] == ["[redacted]", "[redacted]"]
