"""bot/diagnostics/saved.py: a verified customer's paused guides, kept across channels.

The merge and the changes are pure (the real guides, no database); the store runs on SQLite
and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.db.models import CustomerGuide
from bot.diagnostics import DiagnosticTree, load_guides
from bot.diagnostics.engine import option_payload
from bot.diagnostics.flow import FlowTurn, answer, pause, resume, resume_payload, start
from bot.diagnostics.saved import KEEP_DAYS, GuideChanges, SavedGuide, SavedGuides, changes, offer, with_saved
from bot.settings import PROJECT_ROOT
from tests.orders import add_customer

GUIDES: dict[str, DiagnosticTree] = load_guides(PROJECT_ROOT / "data" / "diagnostics")
T0 = dt.datetime(2026, 12, 5, 10, 0, 0)
WIDGET = "web-4f1c2a"


def wifi_paused_at_status_led() -> FlowTurn:
    """The wifi guide, a router chosen, put on hold at the status LED question."""
    first = start(GUIDES, "problem_wifi_drops", None, [])
    at_led = answer(GUIDES, option_payload(1), first.active, [])
    return pause(GUIDES, at_led.active, [])


def saved(state: dict[str, Any], *, at: dt.datetime = T0, channel: str = "web") -> SavedGuide:
    guide = str(state["guide"])
    return SavedGuide(guide, GUIDES[guide].title, state, channel, WIDGET, at)


def shown(turn: FlowTurn) -> list[str]:
    return [say.text for say in turn.messages if say.text]


# -- the merge: a conversation's paused guides and the customer's saved ones --------------------


def test_a_guide_saved_on_another_channel_resumes_at_the_same_step() -> None:
    left = wifi_paused_at_status_led().paused[0]
    offered = with_saved(None, [], [saved(left)])

    back = resume(GUIDES, None, None, offered, "back to my wifi problem")

    assert back.outcome == "resumed" and back.active is not None
    assert (back.active["guide"], back.active["node"], back.active["path"]) == (
        "wifi_drops",
        "status_led",
        [["which_device", "A router"]],
    )
    assert shown(back) == [GUIDES["wifi_drops"].node("status_led").text]
    assert back.paused == []


def test_describing_a_saved_problem_again_resumes_it_instead_of_starting_over() -> None:
    left = wifi_paused_at_status_led().paused[0]

    again = start(GUIDES, "problem_wifi_drops", None, with_saved(None, [], [saved(left)]), "my wifi drops again")

    assert again.outcome == "resumed" and again.active is not None and again.active["node"] == "status_led"


def test_the_conversations_own_entry_wins_and_the_running_guide_is_not_added_twice() -> None:
    left = wifi_paused_at_status_led().paused[0]
    here = {**left, "node": "which_device", "path": []}
    login = start(GUIDES, "problem_login", None, []).active
    no_power = pause(GUIDES, start(GUIDES, "problem_no_power", None, []).active, []).paused[0]

    assert with_saved(None, [here], [saved(left)]) == [here]
    assert with_saved(login, [], [saved({**left, "guide": "login"})]) == []
    merged = with_saved(None, [here], [saved(no_power), saved(left)])
    assert [item["guide"] for item in merged] == ["wifi_drops", "no_power"]  # this conversation's first


def test_back_to_my_problem_names_one_of_several_saved_guides() -> None:
    wifi = wifi_paused_at_status_led().paused[0]
    login = pause(GUIDES, start(GUIDES, "problem_login", None, []).active, []).paused[0]
    offered = with_saved(None, [], [saved(login), saved(wifi, at=T0 - dt.timedelta(hours=1))])

    assert resume(GUIDES, None, None, offered, "back to my problem").active["guide"] == "login"  # type: ignore[index]
    back = resume(GUIDES, None, None, offered, "back to my wifi problem")
    assert back.active is not None and back.active["guide"] == "wifi_drops"
    assert [item["guide"] for item in back.paused] == ["login"]


# -- what a turn changes ---------------------------------------------------------------------------


def test_a_pause_is_saved() -> None:
    running = answer(GUIDES, option_payload(1), start(GUIDES, "problem_wifi_drops", None, []).active, [])
    held = pause(GUIDES, running.active, [])

    change = changes([], running.active, held.active, held.paused)

    assert change == GuideChanges(save=held.paused, forget=[])


def test_a_resumed_guide_is_forgotten_and_the_others_stay_as_they_were() -> None:
    wifi = wifi_paused_at_status_led().paused[0]
    login = pause(GUIDES, start(GUIDES, "problem_login", None, []).active, []).paused[0]
    offered = with_saved(None, [], [saved(wifi), saved(login)])
    back = resume(GUIDES, "wifi_drops", None, offered)

    assert changes(offered, None, back.active, back.paused) == GuideChanges(save=[], forget=["wifi_drops"])


def test_moving_on_within_the_running_guide_changes_nothing() -> None:
    first = start(GUIDES, "problem_wifi_drops", None, [])
    step = answer(GUIDES, option_payload(1), first.active, [])

    assert changes([], first.active, step.active, step.paused).empty


def test_a_guide_that_ends_is_forgotten() -> None:
    wifi = wifi_paused_at_status_led().paused[0]
    back = resume(GUIDES, "wifi_drops", None, [wifi])
    turn = answer(GUIDES, "blinking orange", back.active, back.paused)
    turn = answer(GUIDES, "that fixed it", turn.active, turn.paused)
    assert turn.outcome == "resolved"

    assert changes(back.paused, back.active, turn.active, turn.paused) == GuideChanges(save=[], forget=["wifi_drops"])


def test_starting_another_guide_saves_the_one_it_puts_on_hold_not_a_stale_copy() -> None:
    stale = wifi_paused_at_status_led().paused[0]  # in this conversation's slot, maybe resumed elsewhere since
    running = answer(GUIDES, option_payload(1), start(GUIDES, "problem_no_power", None, []).active, [])
    login = start(GUIDES, "problem_login", running.active, [stale])

    change = changes([stale], running.active, login.active, login.paused)

    assert [item["guide"] for item in change.save] == ["no_power"]
    assert change.forget == ["login"]


# -- the greeting's offer ------------------------------------------------------------------------------


def test_the_offer_names_the_newest_guide_with_a_button_for_each() -> None:
    wifi = wifi_paused_at_status_led().paused[0]
    login = pause(GUIDES, start(GUIDES, "problem_login", None, []).active, []).paused[0]

    say = offer([saved(wifi), saved(login)])

    assert say is not None and say.response == "utter_welcome_back_guide"
    assert dict(say.values) == {"guide": GUIDES["wifi_drops"].title}
    assert say.buttons == (
        (f"Back to: {GUIDES['wifi_drops'].title}", resume_payload("wifi_drops")),
        (f"Back to: {GUIDES['login'].title}", resume_payload("login")),
    )
    after = offer([saved(wifi)], after_request=True)
    assert after is not None and after.response == "utter_offer_saved_guide"
    assert offer([]) is None


# -- the store -------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(CustomerGuide.__table__)).scalar_one())


def test_saved_guides_are_kept_per_customer_newest_first(migrated_engine: Engine) -> None:
    alice, _ = add_customer(migrated_engine)
    bob, _ = add_customer(migrated_engine)
    clock = Clock()
    store = SavedGuides(migrated_engine, clock=clock)
    wifi = wifi_paused_at_status_led().paused[0]
    login = pause(GUIDES, start(GUIDES, "problem_login", None, []).active, []).paused[0]

    store.apply(alice, GuideChanges([wifi], []), channel="web", conversation_id=WIDGET)
    clock.now += dt.timedelta(minutes=5)
    store.apply(alice, GuideChanges([login], []), channel="telegram", conversation_id="telegram-42")

    found = store.paused(alice, GUIDES)
    assert [(s.guide_id, s.channel, s.conversation_id) for s in found] == [
        ("login", "telegram", "telegram-42"),
        ("wifi_drops", "web", WIDGET),
    ]
    assert found[1].state == wifi and found[1].title == GUIDES["wifi_drops"].title
    assert found[1].paused_at == T0
    assert store.paused(bob, GUIDES) == []


def test_a_later_pause_of_the_same_guide_replaces_the_earlier(migrated_engine: Engine) -> None:
    alice, _ = add_customer(migrated_engine)
    clock = Clock()
    store = SavedGuides(migrated_engine, clock=clock)
    wifi = wifi_paused_at_status_led().paused[0]
    store.apply(alice, GuideChanges([wifi], []), channel="web", conversation_id=WIDGET)
    further = {**wifi, "node": "internet_down", "path": [*wifi["path"], ["status_led", "Blinking orange"]]}
    clock.now += dt.timedelta(hours=2)

    store.apply(alice, GuideChanges([further], []), channel="telegram", conversation_id="telegram-42")

    [only] = store.paused(alice, GUIDES)
    assert (only.state["node"], only.channel, only.paused_at) == ("internet_down", "telegram", clock.now)
    assert rows(migrated_engine) == 1


def test_resumed_or_ended_guides_are_forgotten(migrated_engine: Engine) -> None:
    alice, _ = add_customer(migrated_engine)
    store = SavedGuides(migrated_engine, clock=Clock())
    wifi = wifi_paused_at_status_led().paused[0]
    store.apply(alice, GuideChanges([wifi], []), channel="web", conversation_id=WIDGET)

    store.apply(alice, GuideChanges([], ["wifi_drops", "login"]), channel="telegram", conversation_id="telegram-42")

    assert store.paused(alice, GUIDES) == [] and rows(migrated_engine) == 0


def test_guides_paused_more_than_30_days_ago_are_ignored_and_pruned(migrated_engine: Engine) -> None:
    alice, _ = add_customer(migrated_engine)
    bob, _ = add_customer(migrated_engine)
    clock = Clock()
    store = SavedGuides(migrated_engine, clock=clock)
    wifi = wifi_paused_at_status_led().paused[0]
    store.apply(alice, GuideChanges([wifi], []), channel="web", conversation_id=WIDGET)
    store.apply(bob, GuideChanges([wifi], []), channel="web", conversation_id="web-bob")

    clock.now = T0 + dt.timedelta(days=KEEP_DAYS, seconds=1)
    assert store.paused(alice, GUIDES) == []
    assert rows(migrated_engine) == 1  # alice's went when read

    login = pause(GUIDES, start(GUIDES, "problem_login", None, []).active, []).paused[0]
    store.apply(alice, GuideChanges([login], []), channel="web", conversation_id=WIDGET)
    assert rows(migrated_engine) == 1  # bob's went when someone saved


def test_a_state_the_guides_no_longer_fit_is_dropped_not_raised(migrated_engine: Engine) -> None:
    alice, _ = add_customer(migrated_engine)
    store = SavedGuides(migrated_engine, clock=Clock())
    wifi = wifi_paused_at_status_led().paused[0]
    bad = [
        {**wifi, "guide": "retired_guide"},  # the guide file was removed
        {**wifi, "guide": "no_power", "node": "a_step_renamed_since"},
        {**wifi, "guide": "login", "path": 7},  # malformed
        {**wifi, "guide": "slow_speed", "version": 99},
    ]
    store.apply(alice, GuideChanges([*bad, wifi], []), channel="web", conversation_id=WIDGET)
    assert rows(migrated_engine) == 5

    found = store.paused(alice, GUIDES)

    assert [s.guide_id for s in found] == ["wifi_drops"]
    assert rows(migrated_engine) == 1
    again = start(GUIDES, "problem_no_power", None, with_saved(None, [], found))
    assert again.outcome == "started"  # the customer starts that one over
