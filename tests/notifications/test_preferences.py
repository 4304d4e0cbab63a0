"""Notification settings: quiet hours in the customer's timezone, the store, /notify from a linked chat."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.models import ChannelIdentity, utcnow
from bot.notifications.commands import ChatOptIn, is_notify_command
from bot.notifications.preferences import (
    PreferenceError,
    Preferences,
    PreferenceStore,
    QuietHours,
    UnknownCustomer,
    check_timezone,
    parse_time,
)
from bot.notifications.texts import load_notification_texts
from bot.settings import PROJECT_ROOT
from tests.orders import add_customer

TEXTS = load_notification_texts(PROJECT_ROOT / "data" / "texts.yml")
NIGHT = QuietHours(dt.time(22, 0), dt.time(7, 0))


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args)  # naive UTC, as stored


@pytest.mark.parametrize(
    ("now", "due"),
    [
        # Berlin is UTC+1 in January: 20:30 UTC is 21:30 local, before the quiet hours.
        (utc(2027, 1, 12, 20, 30), utc(2027, 1, 12, 20, 30)),
        # 22:30 local: waits until 07:00 local the next morning (06:00 UTC).
        (utc(2027, 1, 12, 21, 30), utc(2027, 1, 13, 6, 0)),
        # 03:00 local, after midnight: until 07:00 the same day.
        (utc(2027, 1, 13, 2, 0), utc(2027, 1, 13, 6, 0)),
        # 07:00 local sharp: quiet hours are over.
        (utc(2027, 1, 13, 6, 0), utc(2027, 1, 13, 6, 0)),
        # Summer time (UTC+2): 23:00 local waits until 07:00 local, 05:00 UTC.
        (utc(2027, 7, 1, 21, 0), utc(2027, 7, 2, 5, 0)),
    ],
)
def test_quiet_hours_across_midnight_in_the_customers_timezone(now: dt.datetime, due: dt.datetime) -> None:
    preferences = Preferences("C1", order_updates=True, quiet_hours=NIGHT, timezone="Europe/Berlin")
    assert preferences.due_at(now) == due


def test_daytime_quiet_hours_and_none() -> None:
    lunch = Preferences("C1", True, QuietHours(dt.time(12, 0), dt.time(13, 30)), "America/New_York")
    # 17:15 UTC is 12:15 in New York (UTC-5 in January).
    assert lunch.due_at(utc(2027, 1, 12, 17, 15)) == utc(2027, 1, 12, 18, 30)
    assert lunch.due_at(utc(2027, 1, 12, 19, 0)) == utc(2027, 1, 12, 19, 0)
    assert Preferences("C1", True).due_at(utc(2027, 1, 12, 3, 0)) == utc(2027, 1, 12, 3, 0)


@pytest.mark.parametrize("value", ["24:00", "7:00", "07:60", "", None, 700, "07:00:00"])
def test_malformed_times_are_refused(value: object) -> None:
    with pytest.raises(PreferenceError):
        parse_time(value, "start")


@pytest.mark.parametrize("value", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", None, 3, "x" * 65])
def test_unknown_timezones_are_refused(value: object) -> None:
    with pytest.raises(PreferenceError):
        check_timezone(value)


def test_an_empty_quiet_span_is_refused() -> None:
    with pytest.raises(PreferenceError):
        QuietHours(dt.time(7, 0), dt.time(7, 0))


async def test_settings_are_off_until_set_and_kept(migrated_engine: Engine) -> None:
    customer, _ = add_customer(migrated_engine)
    store = PreferenceStore(migrated_engine)
    assert await store.get(customer) == Preferences(customer)
    wanted = Preferences(customer, True, NIGHT, "Europe/Berlin")
    assert await store.put(wanted) == wanted
    assert await store.get(customer) == wanted
    assert await store.put(Preferences(customer, False)) == Preferences(customer, False)
    assert await store.get(customer) == Preferences(customer, False)
    with pytest.raises(UnknownCustomer):
        await store.get("NO-SUCH")
    with pytest.raises(UnknownCustomer):
        await store.put(Preferences("NO-SUCH", True))


def _link(engine: Engine, customer: str, channel: str, external_id: str, *, days_ago: int = 0) -> None:
    at = utcnow() - dt.timedelta(days=days_ago)
    with session_factory(engine).begin() as session:
        session.add(
            ChannelIdentity(
                channel=channel, external_id=external_id, customer_id=customer, linked_at=at, last_seen_at=at
            )
        )


async def test_notify_on_and_off_from_a_linked_chat(migrated_engine: Engine) -> None:
    customer, _ = add_customer(migrated_engine)
    _link(migrated_engine, customer, "telegram", "4242")
    store = PreferenceStore(migrated_engine)
    await store.put(Preferences(customer, False, NIGHT, "Europe/Berlin"))
    opt_in = ChatOptIn(store, TEXTS)
    assert await opt_in.command("telegram", "4242", "/notify on") == TEXTS.notify_on
    # The quiet hours and timezone set on the site stay as they were.
    assert await store.get(customer) == Preferences(customer, True, NIGHT, "Europe/Berlin")
    assert await opt_in.command("telegram", "4242", "/notify OFF") == TEXTS.notify_off
    assert (await store.get(customer)).order_updates is False
    for text in ("/notify", "/notify maybe", "/notify on please"):
        assert await opt_in.command("telegram", "4242", text) == TEXTS.notify_usage
    assert (await store.get(customer)).order_updates is False


async def test_notify_in_a_chat_linked_to_no_one_changes_nothing(migrated_engine: Engine) -> None:
    customer, _ = add_customer(migrated_engine)
    _link(migrated_engine, customer, "telegram", "5151", days_ago=90)  # idle too long: no longer linked
    opt_in = ChatOptIn(PreferenceStore(migrated_engine, link_idle=dt.timedelta(days=30)), TEXTS)
    assert await opt_in.command("telegram", "9999", "/notify on") == TEXTS.notify_not_linked
    assert await opt_in.command("telegram", "5151", "/notify on") == TEXTS.notify_not_linked
    assert (await PreferenceStore(migrated_engine).get(customer)).order_updates is False


def test_the_command_is_recognised_only_as_a_command() -> None:
    assert is_notify_command("/notify on")
    assert is_notify_command("/notify")
    assert is_notify_command("/notify@NimbusBot off")
    assert not is_notify_command("please /notify on")
    assert not is_notify_command("/notifyme")
    assert not is_notify_command("")
