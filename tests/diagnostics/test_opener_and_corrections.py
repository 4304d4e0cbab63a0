"""The opening message answers a guide's first questions; "sorry, I meant ..." takes back the last answer."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.diagnostics import DiagnosticSession, DiagnosticTree, load_guide, load_guides, validate_guides
from bot.diagnostics.engine import option_payload
from bot.diagnostics.matching import has_correction_cue, match_correction, mentioned_option, statements
from bot.settings import PROJECT_ROOT

GUIDES: dict[str, DiagnosticTree] = load_guides(PROJECT_ROOT / "data" / "diagnostics")


def opened(guide_id: str, text: str) -> DiagnosticSession:
    session = DiagnosticSession.start(GUIDES[guide_id])
    session.take_opener(text)
    return session


# -- the opener answers the first question(s) -------------------------------------------------


@pytest.mark.parametrize(
    ("guide_id", "text", "node", "device"),
    [
        ("wifi_drops", "the raptor gaming router drops wifi every evening", "status_led", "router"),
        ("wifi_drops", "Our Nimbus Mesh Duo loses the Wi-Fi upstairs", "mesh_led", "mesh"),
        ("wifi_drops", "wifi through my reach ax3000 extender keeps going", "extender_led", "extender"),
        ("wifi_drops", "since the update my AX1800 kicks everyone off the wifi", "status_led", "router"),
        ("no_power", "the powerlink kit in the study is completely dead", "plug_in_device", "powerline"),
        ("no_power", "my 8-port gigabit switch has no power", "any_light", "switch"),
        ("no_power", "one unit of the mesh trio stays dark", "any_light", "mesh"),
        ("payment_failed", "my shield renewal didn't go through", "shield_status", None),
        ("login", "lost the password for my nimbus account, help", "account_problem", None),
        ("login", "i forgot the admin password of the router", "admin_page_opens", None),
    ],
)
def test_an_opener_naming_the_answer_skips_the_question(
    guide_id: str, text: str, node: str, device: str | None
) -> None:
    session = opened(guide_id, text)
    assert session.node_id == node
    assert session.device == device
    assert len(session.path) == 1 and session.path[0][0] == GUIDES[guide_id].start


def test_an_opener_can_answer_two_questions_in_a_row() -> None:
    session = DiagnosticSession.start(GUIDES["login"])
    taken = session.take_opener("my nimbus account password stopped working, now I'm locked out")
    assert taken == (("which_login", "My Nimbus account"), ("account_problem", "Account locked"))
    assert session.node_id == "account_locked"


@pytest.mark.parametrize(
    ("guide_id", "text"),
    [
        ("wifi_drops", "my wifi keeps cutting out"),  # nothing named
        ("no_power", "the router won't come on"),  # a lone category word: may be the provider's box
        ("no_power", "my powerline thingy is dead"),
        ("wifi_drops", "both the velo and the mesh trio drop the wifi"),  # two answers named
        ("wifi_drops", "it's not the velo, the whole wifi drops"),  # negated
        ("wifi_drops", "the wifi keeps dropping. would a mesh trio be better?"),  # a product asked about
        ("payment_failed", "my card got declined at the checkout"),
        ("login", "can't get into my nimbus account"),
        ("slow_speed", "my wifi is slow on the mesh trio"),  # the measurement is never pre-answered
    ],
)
def test_an_opener_without_one_clear_answer_asks(guide_id: str, text: str) -> None:
    session = DiagnosticSession.start(GUIDES[guide_id])
    assert session.take_opener(text) == ()
    assert session.node_id == GUIDES[guide_id].start and session.path == ()


def test_mentions_are_answers_at_the_step_too() -> None:
    session = DiagnosticSession.start(GUIDES["no_power"])
    outcome = session.answer("it's the powerlink one")
    assert outcome.kind == "next_step" and session.node_id == "plug_in_device" and session.device == "powerline"


def test_a_longer_mention_wins_over_the_one_inside_it() -> None:
    options = GUIDES["wifi_drops"].nodes["which_device"].options
    assert mentioned_option("the reach ax3000 keeps dropping", options) == 2
    assert mentioned_option("the ax3000 keeps dropping", options) == 0
    assert mentioned_option("not the reach ax3000, the velo", options) == 0


def test_statements_leave_out_questions() -> None:
    assert statements("My wifi drops. Is the Mesh Trio better? It's the velo.") == "My wifi drops. It's the velo."


def test_the_opener_stops_before_an_answer_that_would_end_the_guide(tmp_path: Path) -> None:
    (tmp_path / "mini.yml").write_text(
        """\
id: mini
title: Mini guide
intent: problem_mini
start: which
intro: Let's see.
nodes:
  which:
    kind: question
    text: Which one?
    options:
      - title: The big one
        next: handoff
        mentions: [big one]
      - title: The small one
        next: steps
        mentions: [small one]
  steps:
    kind: instruction
    text: Unplug it.
    options:
      - title: Done
        next: resolved
""",
        encoding="utf-8",
    )
    tree = load_guide(tmp_path / "mini.yml")
    assert tree.intro == "Let's see."
    big = DiagnosticSession.start(tree)
    assert big.take_opener("the big one is broken") == () and big.node_id == "which"
    small = DiagnosticSession.start(tree)
    assert small.take_opener("the small one is broken") == (("which", "The small one"),)


def test_mentions_belong_on_questions(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(
        """\
id: bad
title: Bad guide
intent: problem_bad
start: steps
nodes:
  steps:
    kind: instruction
    text: Unplug it.
    options:
      - title: Done
        next: resolved
        mentions: [unplugged it]
""",
        encoding="utf-8",
    )
    assert [(p.code, p.line) for p in validate_guides(tmp_path)] == [("mentions_not_on_question", 10)]


# -- a correction takes back the previous answer ----------------------------------------------


def test_a_correction_goes_back_one_step_and_takes_the_other_option() -> None:
    session = DiagnosticSession.start(GUIDES["wifi_drops"])
    session.answer(option_payload(1))  # A router
    outcome = session.answer("oops, wrong one: it's an extender")
    assert outcome.kind == "next_step" and outcome.corrected
    assert outcome.step is not None and outcome.step.node_id == "extender_led"
    assert outcome.path == (("which_device", "An extender"),)
    assert session.device == "extender"


def test_a_negated_answer_is_a_correction_too() -> None:
    session = DiagnosticSession.start(GUIDES["wifi_drops"])
    session.answer("router")
    outcome = session.answer("it's not a router, we have the mesh kit")
    assert outcome.corrected and session.node_id == "mesh_led" and session.device == "mesh"


def test_a_correction_of_a_measurement() -> None:
    session = DiagnosticSession.start(GUIDES["slow_speed"])
    session.answer("slow on cable")
    assert session.node_id == "restart"
    outcome = session.answer("hold on, with the cable it's fast actually, the wifi is slow")
    assert outcome.corrected and session.node_id == "wifi_where"
    assert session.path == (("measure", "Cable is fine, Wi-Fi is slow"),)


def test_a_correction_survives_the_slot() -> None:
    session = DiagnosticSession.start(GUIDES["wifi_drops"])
    session.answer("router")
    resumed = DiagnosticSession.from_dict(session.to_dict(), GUIDES)
    assert resumed.answer("sorry I meant the mesh").corrected and resumed.node_id == "mesh_led"


def test_a_pre_answered_question_can_be_corrected() -> None:
    session = opened("wifi_drops", "my velo keeps dropping the wifi")
    assert session.node_id == "status_led"
    assert session.answer("no, it's the range extender").corrected and session.node_id == "extender_led"


@pytest.mark.parametrize(
    "text",
    [
        "a mesh kit",  # no cue: not a silent jump back
        "sorry, what?",  # a cue, but no other answer of the previous step
        "sorry, I meant the router",  # the same answer again
    ],
)
def test_no_correction_without_a_cue_and_another_answer(text: str) -> None:
    session = DiagnosticSession.start(GUIDES["wifi_drops"])
    session.answer("router")
    outcome = session.answer(text)
    assert outcome.kind == "not_understood" and not outcome.corrected
    assert session.node_id == "status_led" and session.path == (("which_device", "A router"),)


def test_the_current_step_comes_first() -> None:
    session = DiagnosticSession.start(GUIDES["wifi_drops"])
    session.answer("router")
    outcome = session.answer("sorry, it's blinking orange")
    assert outcome.kind == "next_step" and not outcome.corrected and session.node_id == "internet_down"


def test_nothing_to_correct_at_the_start() -> None:
    session = DiagnosticSession.start(GUIDES["wifi_drops"])
    assert session.answer("sorry, I meant something else").kind == "not_understood"


@pytest.mark.parametrize(
    ("text", "cued"),
    [
        ("sorry, I meant a mesh kit", True),
        ("oh wait, I misread", True),
        ("actually it's the extender", True),
        ("no, the extender", True),
        ("no", False),
        ("a mesh kit", False),
        ("it's still dropping", False),
    ],
)
def test_correction_cues(text: str, cued: bool) -> None:
    assert has_correction_cue(text) is cued


def test_match_correction_excludes_the_answer_taken_back() -> None:
    options = GUIDES["wifi_drops"].nodes["which_device"].options
    assert match_correction("sorry, not the router but the extender", options, 0) == 2
    assert match_correction("sorry, the second one", options, 0) == 1
    assert match_correction("sorry, the first one", options, 0) is None
    assert match_correction("a mesh kit", options, 0) is None


# -- the guides' product mentions stay in step with the catalog -------------------------------

CATALOG = yaml.safe_load((PROJECT_ROOT / "data" / "catalog" / "products.yml").read_text(encoding="utf-8"))["products"]


@pytest.mark.parametrize("guide_id", ["wifi_drops", "no_power"])
def test_every_device_of_the_catalog_is_recognised_by_its_name(guide_id: str) -> None:
    node = GUIDES[guide_id].nodes["which_device"]
    categories = {option.value: index for index, option in enumerate(node.options)}
    missed = [
        (product["name"], product["category"])
        for product in CATALOG
        if product["category"] in categories
        and mentioned_option(f"my {product['name']} has a problem", node.options) != categories[product["category"]]
    ]
    assert missed == []
