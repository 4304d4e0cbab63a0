"""bench/dialogue_robustness.py: expectations, scoring and the conversation files' shape."""

from __future__ import annotations

from bench.dialogue_robustness import DIALOGUES, SETS, Outcome, check, load_dialogues, summarise

REPLY = {
    "replies": [
        {"text": "The Nimbus Mesh Trio costs €279.99.", "buttons": []},
        {"text": "Back to the troubleshooting:", "buttons": [{"title": "A router", "payload": "/diag_choose"}]},
    ]
}


def test_expectations_are_checked_on_the_joined_replies_and_buttons() -> None:
    assert (
        check({"contains": ["Mesh Trio", "Back to the troubleshooting:"], "buttons": ["A router"]}, REPLY, {}) is None
    )
    assert check({"contains": ["order {processing}"]}, REPLY, {"processing": "190001"}) == "missing 'order 190001'"
    assert check({"not_contains": ["costs"]}, REPLY, {}) == "unexpected 'costs'"
    assert check({"any_of": ["€", "EUR"]}, REPLY, {}) is None
    assert check({"buttons": ["A mesh kit"]}, REPLY, {}) == "no button 'A mesh kit' (offered ['A router'])"


def test_pass_rates_per_category() -> None:
    result = summarise(
        [
            Outcome("exits", "a", True),
            Outcome("exits", "b", False, {"turn": 1, "why": "x"}),
            Outcome("resets", "c", True),
        ]
    )
    assert (result["conversations"], result["passed"], result["pass_rate"]) == (3, 2, round(2 / 3, 4))
    assert result["per_category"]["exits"]["pass_rate"] == 0.5
    assert result["per_category"]["exits"]["failures"] == [{"id": "b", "turn": 1, "why": "x"}]


def test_the_shipped_conversations_are_enough_and_well_formed() -> None:
    categories = load_dialogues(DIALOGUES)
    assert sum(len(c) for c in categories.values()) >= 150
    assert len(categories) >= 9


def test_the_held_out_set_covers_every_category_of_the_development_set() -> None:
    holdout = load_dialogues(SETS["holdout"][0])
    assert set(holdout) == set(load_dialogues(DIALOGUES))
    assert sum(len(c) for c in holdout.values()) >= 50
    ids = [c["id"] for conversations in holdout.values() for c in conversations]
    assert len(ids) == len(set(ids))
