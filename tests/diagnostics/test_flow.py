"""The troubleshooting flow (start, answer, pause, resume) on the real guides, without Rasa."""

from __future__ import annotations

from typing import Any

import pytest

from bot.diagnostics import DiagnosticTree, load_guides
from bot.diagnostics.engine import option_payload
from bot.diagnostics.flow import (
    FlowTurn,
    answer,
    give_up,
    pause,
    resume,
    resume_payload,
    start,
)
from bot.diagnostics.matching import match_option, ordinal_choice
from bot.diagnostics.state import corrects_previous, current_options
from bot.settings import PROJECT_ROOT

GUIDES: dict[str, DiagnosticTree] = load_guides(PROJECT_ROOT / "data" / "diagnostics")


def shown_text(turn: FlowTurn) -> list[str]:
    return [say.text for say in turn.messages if say.text]


def responses(turn: FlowTurn) -> list[str]:
    return [say.response for say in turn.messages if say.response]


def started(guide: str = "wifi_drops") -> FlowTurn:
    return start(GUIDES, GUIDES[guide].intent, None, [])


def test_start_shows_the_first_step_with_buttons() -> None:
    turn = started()
    tree = GUIDES["wifi_drops"]
    assert turn.outcome == "started"
    assert shown_text(turn) == [tree.node(tree.start).text]
    assert [title for title, _ in turn.messages[0].buttons] == [o.title for o in tree.node(tree.start).options]
    assert turn.active is not None and turn.active["node"] == tree.start and turn.active["intent"] == tree.intent
    assert [option.title for option in current_options(turn.active)] == ["A router", "A mesh kit", "An extender"]


def test_unknown_intent_has_no_guide() -> None:
    turn = start(GUIDES, "ask_product_price", None, [])
    assert responses(turn) == ["utter_diag_no_guide"] and turn.active is None


def test_answers_by_button_and_by_free_text_walk_the_tree() -> None:
    tree = GUIDES["wifi_drops"]
    turn = answer(GUIDES, option_payload(1), started().active, [])
    assert shown_text(turn) == [tree.node("status_led").text]
    turn = answer(GUIDES, "yes it's blinking orange", turn.active, [])
    assert shown_text(turn) == [tree.node("internet_down").text]
    assert turn.active is not None
    assert turn.active["path"] == [["which_device", "A router"], ["status_led", "Blinking orange"]]
    assert turn.active["device"] == "router"


def test_resolution_ends_the_guide_and_asks_for_anything_else() -> None:
    turn = answer(GUIDES, option_payload(1), started().active, [])
    turn = answer(GUIDES, "blinking orange", turn.active, [])
    turn = answer(GUIDES, "that fixed it", turn.active, [])
    assert turn.outcome == "resolved" and turn.active is None and turn.handoff is None
    assert turn.followup == "utter_anything_else"


def test_not_understood_repeats_the_step_and_then_offers_a_person() -> None:
    active = started().active
    first = answer(GUIDES, "purple elephants", active, [])
    assert first.outcome == "not_understood" and responses(first) == ["utter_diag_not_understood"]
    assert first.active is not None and first.active["node"] == "which_device"
    assert "/request_human" not in [p for say in first.messages for _, p in say.buttons]
    second = answer(GUIDES, "no idea honestly", first.active, [])
    assert "/request_human" in [p for say in second.messages for _, p in say.buttons]


def _walk_to_handoff(tree: DiagnosticTree) -> FlowTurn:
    """Follow the last option of every step until the guide ends in a handoff."""
    turn = start(GUIDES, tree.intent, None, [])
    for _ in range(50):
        if turn.outcome == "handoff":
            return turn
        assert turn.active is not None, turn
        node = tree.node(turn.active["node"])
        choice = next(
            (i for i, o in enumerate(node.options) if tree.node(o.next).kind == "handoff"),
            len(node.options) - 1,
        )
        turn = answer(GUIDES, option_payload(choice + 1), turn.active, [])
    raise AssertionError("no handoff reached")


@pytest.mark.parametrize("guide_id", sorted(GUIDES))
def test_running_out_of_steps_requests_a_handoff_with_the_path(guide_id: str) -> None:
    turn = _walk_to_handoff(GUIDES[guide_id])
    assert turn.handoff is not None and turn.handoff.reason == "diagnostics_exhausted"
    packet: dict[str, Any] = dict(turn.handoff.packet)
    assert packet["guide"] == guide_id and packet["path"], packet
    assert all(set(hop) == {"step", "answer"} for hop in packet["path"])
    assert turn.active is None


def test_pause_and_resume_at_the_same_step() -> None:
    turn = answer(GUIDES, option_payload(1), started().active, [])
    paused = pause(GUIDES, turn.active, [])
    assert paused.active is None and paused.paused[0]["node"] == "status_led"
    assert responses(paused) == ["utter_diag_paused"]
    assert paused.messages[0].buttons == (("Back to: Wi-Fi keeps dropping", resume_payload("wifi_drops")),)
    back = resume(GUIDES, None, None, paused.paused, "back to my wifi problem")
    assert back.outcome == "resumed" and back.paused == []
    assert shown_text(back) == [GUIDES["wifi_drops"].node("status_led").text]


def test_describing_the_problem_again_resumes_instead_of_restarting() -> None:
    turn = answer(GUIDES, option_payload(1), started().active, [])
    paused = pause(GUIDES, turn.active, [])
    again = start(GUIDES, "problem_wifi_drops", None, paused.paused)
    assert again.outcome == "resumed" and again.active is not None and again.active["node"] == "status_led"


def test_another_guide_pauses_the_running_one_and_back_names_it() -> None:
    wifi = answer(GUIDES, option_payload(1), started().active, [])
    login = start(GUIDES, "problem_login", wifi.active, wifi.paused)
    assert login.active is not None and login.active["guide"] == "login"
    assert [item["guide"] for item in login.paused] == ["wifi_drops"]
    back = resume(GUIDES, None, login.active, login.paused, "ok back to my wifi")
    assert back.active is not None and back.active["guide"] == "wifi_drops" and back.active["node"] == "status_led"
    assert [item["guide"] for item in back.paused] == ["login"]
    by_button = resume(GUIDES, "login", back.active, back.paused)
    assert by_button.active is not None and by_button.active["guide"] == "login"


def test_nothing_to_resume_and_stale_buttons() -> None:
    assert responses(resume(GUIDES, None, None, [], "back to my problem")) == ["utter_diag_nothing_to_resume"]
    assert responses(answer(GUIDES, option_payload(1), None, [])) == ["utter_diag_nothing_to_resume"]
    assert responses(pause(GUIDES, None, [])) == ["utter_ok"]


def test_state_of_an_edited_guide_starts_afresh_instead_of_crashing() -> None:
    broken = {"version": 1, "guide": "wifi_drops", "node": "no_such_node", "path": [], "device": None}
    assert responses(answer(GUIDES, "yes", broken, [])) == ["utter_diag_nothing_to_resume"]
    assert start(GUIDES, "problem_wifi_drops", broken, []).outcome == "started"


def test_give_up_returns_the_path_so_far() -> None:
    turn = answer(GUIDES, option_payload(1), started().active, [])
    packet = give_up(GUIDES, turn.active)
    assert packet is not None and packet["path"] == [{"step": "which_device", "answer": "A router"}]
    assert give_up(GUIDES, None) is None


@pytest.mark.parametrize(
    ("text", "count", "expected"),
    [("2", 3, 1), ("option 3", 3, 2), ("the first one", 3, 0), ("the last one", 3, 2), ("4", 3, None), ("no", 3, None)],
)
def test_ordinal_choice(text: str, count: int, expected: int | None) -> None:
    assert ordinal_choice(text, count) == expected


def test_match_option_accepts_a_position() -> None:
    options = GUIDES["wifi_drops"].node("status_led").options
    assert match_option("the second one", options) == 1


# -- the opener answers the first question; a correction takes back the last answer ----------


def test_an_opener_that_names_the_device_starts_at_its_branch_after_the_intro() -> None:
    tree = GUIDES["no_power"]
    turn = start(GUIDES, tree.intent, None, [], "the AV2000 adapters in the hall lost power")
    assert turn.outcome == "started"
    assert shown_text(turn) == [tree.intro, tree.node("plug_in_device").text]
    assert turn.messages[0].buttons == ()
    assert [title for title, _ in turn.messages[1].buttons] == [o.title for o in tree.node("plug_in_device").options]
    assert turn.active is not None and turn.active["node"] == "plug_in_device"
    assert turn.active["path"] == [["which_device", "Powerline adapter"]] and turn.active["device"] == "powerline"


def test_an_opener_that_names_nothing_asks_the_first_question() -> None:
    tree = GUIDES["no_power"]
    turn = start(GUIDES, tree.intent, None, [], "my router is dead")
    assert shown_text(turn) == [tree.node(tree.start).text]
    assert turn.active is not None and turn.active["node"] == tree.start and "previous" not in turn.active


def test_the_opener_does_not_move_a_guide_that_is_resumed() -> None:
    turn = answer(GUIDES, "a mesh kit", started().active, [])
    paused = pause(GUIDES, turn.active, [])
    again = start(GUIDES, "problem_wifi_drops", None, paused.paused, "my velo keeps dropping the wifi again")
    assert again.outcome == "resumed" and again.active is not None and again.active["node"] == "mesh_led"


def test_the_state_carries_the_previous_steps_options_for_the_policy() -> None:
    turn = answer(GUIDES, option_payload(1), started().active, [])
    assert turn.active is not None
    assert [item[0] for item in turn.active["previous"]] == ["A router", "A mesh kit", "An extender"]
    assert "raptor" in turn.active["previous"][0][1]  # mentions are answers too
    assert corrects_previous(turn.active, "whoops, it's a mesh system")
    assert not corrects_previous(turn.active, "a mesh system")  # no cue
    assert not corrects_previous(turn.active, "sorry, it's blinking orange")  # an answer to the current step
    assert not corrects_previous(started().active, "sorry, I meant a mesh kit")  # nothing answered yet
    assert not corrects_previous(None, "sorry, I meant a mesh kit")


def test_a_correction_shows_the_other_branch() -> None:
    tree = GUIDES["wifi_drops"]
    turn = answer(GUIDES, option_payload(1), started().active, [])
    corrected = answer(GUIDES, "my mistake, we have a range extender", turn.active, [])
    assert corrected.outcome == "corrected"
    assert shown_text(corrected) == [tree.node("extender_led").text]
    assert corrected.active is not None and corrected.active["path"] == [["which_device", "An extender"]]
    assert corrected.active["device"] == "extender"
