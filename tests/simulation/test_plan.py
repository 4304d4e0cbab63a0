"""The simulation's plan, its words and its guide walks, without a stack (the e2e run: tests/e2e/test_simulate.py)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.diagnostics import load_guides
from bot.settings import PROJECT_ROOT
from bot.simulation import load_phrasebook
from bot.simulation.guides import GuideWalker
from bot.simulation.runner import plan
from bot.simulation.scenarios import SCENARIOS
from bot.simulation.transport import Reply
from tests.helpers import free_port

GUIDES = load_guides(PROJECT_ROOT / "data" / "diagnostics")
PHRASES = PROJECT_ROOT / "data" / "simulation" / "customers.yml"
PRODUCTION_SECRETS = (
    "BOT_API_TOKEN",
    "BOT_RASA_TOKEN",
    "BOT_IDENTITY_SECRET",
    "BOT_RASA_CHANNEL_SECRET",
    "BOT_ACTION_TOKEN",
    "BOT_TURN_SECRET",
)


@pytest.mark.parametrize("conversations", [1, 5, 11, 12, 25, 300, 1001])
def test_the_plan_has_exactly_the_conversations_asked_for(conversations: int) -> None:
    visits = plan(conversations, seed=1)
    assert sum(scenario.conversations for scenario in visits) == conversations


def test_every_scenario_runs_once_there_are_enough_conversations() -> None:
    assert {s.name for s in plan(12, seed=3)} == {s.name for s in SCENARIOS}
    assert {s.name for s in plan(25, seed=3)} == {s.name for s in SCENARIOS}


def test_the_mix_follows_the_weights() -> None:
    counts = Counter(s.name for s in plan(1000, seed=5))
    total = sum(s.weight for s in SCENARIOS)
    for scenario in SCENARIOS:
        expected = 1000 * scenario.weight / total / scenario.conversations
        assert abs(counts[scenario.name] - expected) <= 1, (scenario.name, counts[scenario.name], expected)


def test_a_seed_always_gives_the_same_plan_and_another_seed_another_order() -> None:
    assert [s.name for s in plan(300, seed=7)] == [s.name for s in plan(300, seed=7)]
    assert [s.name for s in plan(300, seed=7)] != [s.name for s in plan(300, seed=8)]


def test_the_phrasebook_has_openers_for_every_guide() -> None:
    phrases = load_phrasebook(PHRASES, frozenset(GUIDES))
    assert set(phrases.guide_openers) >= set(GUIDES)
    text = phrases.pick(random.Random(1), "order_status", order="123456")
    assert "123456" in text


def test_a_phrase_with_an_unknown_placeholder_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "customers.yml"
    broken.write_text(
        PHRASES.read_text(encoding="utf-8").replace("where is order {order}", "where is order {order_id}"),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="unknown placeholder"):
        load_phrasebook(broken)


def test_a_guide_without_openers_is_refused() -> None:
    with pytest.raises(ValueError, match="no guide_openers for"):
        load_phrasebook(PHRASES, frozenset({*GUIDES, "fax_machine"}))


@pytest.mark.parametrize("ending", ["resolved", "handoff"])
@pytest.mark.parametrize("guide_id", sorted(GUIDES))
def test_the_walker_reaches_the_ending_it_aims_for(guide_id: str, ending: str) -> None:
    """Fed the steps the bot would show, every seeded walk ends where it aimed."""
    tree, walker = GUIDES[guide_id], GuideWalker(GUIDES[guide_id])
    for seed in range(20):
        rng = random.Random(seed)
        node = tree.node(tree.start)
        for _ in range(30):
            assert walker.shown(Reply(texts=("Some intro.", node.text))) == node
            index = walker.choose(node, ending, rng)
            assert index is not None, (guide_id, node.id)
            node = tree.node(node.options[index].next)
            if node.is_terminal:
                break
        assert node.kind == ending, (guide_id, seed)


def test_a_reply_without_a_step_shows_none() -> None:
    walker = GuideWalker(GUIDES["wifi_drops"])
    assert walker.shown(Reply(texts=("Hi! How can I help?",))) is None


def test_no_gateway_is_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOT_ENV", "test")
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["simulate", "--conversations", "3", "--url", url]) == 2
    err = capsys.readouterr().err
    assert f"no gateway answers at {url}" in err and "make run" in err


def test_production_refuses_to_simulate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOT_ENV", "production")
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    for name in PRODUCTION_SECRETS:
        monkeypatch.setenv(name, f"{name}-value")
    assert main(["simulate", "--conversations", "3"]) == 2
    assert "not in production" in capsys.readouterr().err


def test_a_real_time_pace_and_backdating_exclude_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOT_ENV", "test")
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    assert main(["simulate", "--days", "2", "--backdate-days", "7"]) == 2
    assert "exclude each other" in capsys.readouterr().err
    assert main(["simulate", "--backdate-days", "-1"]) == 2
    assert "at least 0" in capsys.readouterr().err
