"""The diagnostic engine walks the real guides by buttons and by free text."""

from __future__ import annotations

import json

import pytest

from bot.diagnostics import DiagnosticSession, DiagnosticTree, SessionError, StepOutcome, load_guides
from bot.diagnostics.engine import option_payload, parse_payload
from bot.diagnostics.matching import match_option
from bot.settings import PROJECT_ROOT

GUIDES_DIR = PROJECT_ROOT / "data" / "diagnostics"

# Option titles chosen at each step, from the start to a terminal.
RESOLVED_PATHS: dict[str, list[str]] = {
    "wifi_drops": [
        "A router",
        "Solid white",
        "All devices",
        "Done, still broken",
        "Done, still broken",
        "That fixed it",
    ],
    "no_power": ["Router", "No light at all", "Done, still broken", "That fixed it"],
    "slow_speed": ["Cable is fine, Wi-Fi is slow", "Everywhere, even next to the router", "That fixed it"],
    "login": ["My Nimbus account", "Wrong password", "I'm in now"],
    "firmware_update": ["Solid white, it works", "Done, continue", "Failed again", "Worked this time"],
    "payment_failed": ["My Nimbus Shield subscription", "That fixed it"],
}

# The main path: every fix tried and failed, ending with a handoff.
HANDOFF_PATHS: dict[str, list[str]] = {
    "wifi_drops": [
        "A router",
        "Solid white",
        "All devices",
        "Done, still broken",
        "Done, still broken",
        "Done, still broken",
        "Done, still broken",
        "Update available",
        "Done, still broken",
    ],
    "no_power": [
        "Router",
        "No light at all",
        "Done, still broken",
        "Done, still broken",
        "Yes, the adapter light is on",
        "Done, still broken",
    ],
    "slow_speed": [
        "Cable is slow too",
        "Done, still slow",
        "Done, still slow",
        "Done, still slow",
        "Fast without the router",
        "Done, still slow",
    ],
    "login": [
        "The router's admin page",
        "Yes, but my password is refused",
        "Done, still refused",
        "Yes, it's in the app",
        "Done, still refused",
        "Yes, reset it",
        "Done, still refused",
    ],
    "firmware_update": [
        "Red or orange and nothing works",
        "No, still red or orange",
        "Done, continue",
        "The app shows an error",
        "Still doesn't work",
    ],
    "payment_failed": [
        "An order in the Nimbus shop",
        "Card declined",
        "Done, still declined",
        "Done, still declined",
        "Done, still failing",
        "Yes, I was charged",
    ],
}


@pytest.fixture(scope="module")
def guides() -> dict[str, DiagnosticTree]:
    return load_guides(GUIDES_DIR)


def _index(session: DiagnosticSession, title: str) -> int:
    titles = [button.title for button in session.current_step().buttons]
    assert title in titles, f"{session.node_id}: {title!r} not in {titles}"
    return titles.index(title)


def _walk(session: DiagnosticSession, titles: list[str], *, free_text: bool) -> StepOutcome:
    outcome: StepOutcome | None = None
    for title in titles:
        index = _index(session, title)
        if free_text:
            option = session.node.options[index]
            answer = (option.synonyms or (option.title,))[0]
        else:
            answer = session.current_step().buttons[index].payload
        outcome = session.answer(answer)
        assert outcome.kind != "not_understood", f"{session.node_id}: {answer!r} not understood"
    assert outcome is not None
    return outcome


def test_all_six_guides_are_loaded(guides: dict[str, DiagnosticTree]) -> None:
    assert set(guides) == set(RESOLVED_PATHS) == set(HANDOFF_PATHS)
    assert {tree.intent for tree in guides.values()} == {
        "problem_wifi_drops",
        "problem_no_power",
        "problem_slow_speed",
        "problem_login",
        "problem_firmware_update",
        "problem_payment_failed",
    }


@pytest.mark.parametrize("free_text", [False, True], ids=["payloads", "free_text"])
@pytest.mark.parametrize("guide_id", sorted(RESOLVED_PATHS))
def test_happy_path_resolves(guides: dict[str, DiagnosticTree], guide_id: str, free_text: bool) -> None:
    session = DiagnosticSession.start(guides[guide_id])
    outcome = _walk(session, RESOLVED_PATHS[guide_id], free_text=free_text)
    assert outcome.kind == "resolved"
    assert outcome.finished and outcome.step is None
    assert outcome.text
    assert [title for _, title in outcome.path] == RESOLVED_PATHS[guide_id]
    assert session.finished


@pytest.mark.parametrize("free_text", [False, True], ids=["payloads", "free_text"])
@pytest.mark.parametrize("guide_id", sorted(HANDOFF_PATHS))
def test_exhausted_main_path_hands_off_with_path(
    guides: dict[str, DiagnosticTree], guide_id: str, free_text: bool
) -> None:
    tree = guides[guide_id]
    session = DiagnosticSession.start(tree)
    outcome = _walk(session, HANDOFF_PATHS[guide_id], free_text=free_text)
    assert outcome.kind == "handoff"
    assert outcome.text
    assert len(outcome.path) == len(HANDOFF_PATHS[guide_id]) >= 5
    assert outcome.path[0][0] == tree.start
    assert [title for _, title in outcome.path] == HANDOFF_PATHS[guide_id]
    assert all(node_id in tree.nodes for node_id, _ in outcome.path)


def test_realistic_free_text_walk(guides: dict[str, DiagnosticTree]) -> None:
    session = DiagnosticSession.start(guides["wifi_drops"])
    answers = [
        ("my Velo AX3000", "status_led"),
        ("yes it's blinking orange", "internet_down"),
        ("Done that.", "provider_outage"),
    ]
    for text, expected_node in answers:
        outcome = session.answer(text)
        assert outcome.kind == "next_step"
        assert outcome.step is not None and outcome.step.node_id == expected_node
    outcome = session.answer("Still not working :(")
    assert outcome.kind == "handoff"
    assert session.device == "router"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("That fixed it!", 0),
        ("yes, that worked", 0),
        ("its fixd", 0),
        ("done that", 1),
        ("nope, not fixed", 1),
        ("it's STILL dropping", 1),
        ("what is band steering?", None),
        ("", None),
    ],
)
def test_free_text_matching(guides: dict[str, DiagnosticTree], text: str, expected: int | None) -> None:
    options = guides["wifi_drops"].nodes["power_cycle"].options
    assert match_option(text, options) == expected


def test_every_title_synonym_and_mention_selects_its_own_option(guides: dict[str, DiagnosticTree]) -> None:
    clashes = [
        f"{tree.id}/{node.id}: {phrase!r}"
        for tree in guides.values()
        for node in tree.nodes.values()
        for index, option in enumerate(node.options)
        for phrase in (option.title, *option.phrases)
        if match_option(phrase, node.options) != index
    ]
    assert clashes == []


@pytest.mark.parametrize("text", ["banana", '/diag_choose{"option":"9"}', '/diag_choose{"option":"x"}', "  "])
def test_not_understood_keeps_the_step(guides: dict[str, DiagnosticTree], text: str) -> None:
    session = DiagnosticSession.start(guides["slow_speed"])
    before = session.current_step()
    outcome = session.answer(text)
    assert outcome.kind == "not_understood"
    assert outcome.step == before
    assert outcome.path == ()
    assert session.current_step() == before


def test_buttons_carry_payloads(guides: dict[str, DiagnosticTree]) -> None:
    step = DiagnosticSession.start(guides["login"]).current_step()
    assert step.node_id == "which_login"
    assert step.text
    assert [button.payload for button in step.buttons] == [
        '/diag_choose{"option":"1"}',
        '/diag_choose{"option":"2"}',
    ]
    assert parse_payload(option_payload(2)) == 2
    assert parse_payload("/diag_choose") is None
    assert parse_payload('/other{"option":"1"}') is None


def test_serialise_and_resume_at_the_same_step(guides: dict[str, DiagnosticTree]) -> None:
    titles = HANDOFF_PATHS["wifi_drops"]
    session = DiagnosticSession.start(guides["wifi_drops"])
    _walk(session, titles[:4], free_text=False)
    state = json.loads(json.dumps(session.to_dict()))
    assert state["guide"] == "wifi_drops"
    assert state["node"] == session.node_id == "placement"
    assert state["device"] == "router"

    resumed = DiagnosticSession.from_dict(state, guides)
    assert resumed.current_step() == session.current_step()
    assert resumed.path == session.path
    outcome = _walk(resumed, titles[4:], free_text=True)
    assert outcome.kind == "handoff"
    assert [title for _, title in outcome.path] == titles
    assert outcome.device == "router"


@pytest.mark.parametrize(
    "state",
    [
        {"version": 1, "guide": "nope", "node": "scope", "path": []},
        {"version": 1, "guide": "wifi_drops", "node": "nope", "path": []},
        {"version": 1, "guide": "wifi_drops", "node": "scope", "path": [1, 2]},
        {"version": 99, "guide": "wifi_drops", "node": "scope", "path": []},
    ],
)
def test_resume_rejects_bad_state(guides: dict[str, DiagnosticTree], state: dict[str, object]) -> None:
    with pytest.raises(SessionError):
        DiagnosticSession.from_dict(state, guides)


def test_answer_after_the_end_is_an_error(guides: dict[str, DiagnosticTree]) -> None:
    session = DiagnosticSession.start(guides["payment_failed"])
    _walk(session, RESOLVED_PATHS["payment_failed"], free_text=False)
    with pytest.raises(SessionError):
        session.answer("hello")


def test_misses_are_counted_kept_and_reset(guides: dict[str, DiagnosticTree]) -> None:
    session = DiagnosticSession.start(guides["slow_speed"])
    assert session.answer("what?").misses == 1
    assert session.answer("hmm").misses == 2
    resumed = DiagnosticSession.from_dict(session.to_dict(), guides)
    assert resumed.answer("no idea").misses == 3
    outcome = resumed.answer("cable is slow too")
    assert outcome.kind == "next_step" and outcome.misses == 0


def test_give_up_hands_off_with_the_path_taken(guides: dict[str, DiagnosticTree]) -> None:
    session = DiagnosticSession.start(guides["no_power"])
    _walk(session, ["Router", "No light at all"], free_text=False)
    outcome = session.give_up()
    assert outcome.kind == "handoff"
    assert outcome.path == (("which_device", "Router"), ("any_light", "No light at all"))
    assert outcome.device == "router"
    assert session.finished
    restored = DiagnosticSession.from_dict(session.to_dict(), guides)
    assert restored.finished
    with pytest.raises(SessionError):
        restored.give_up()
