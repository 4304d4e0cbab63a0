"""Order updates: a reported change notifies an opted-in customer once, in their linked chat, through the outbox."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.conversations.store import ConversationStore
from bot.core.messages import StoredMessage
from bot.db.engine import create_db_engine, session_factory
from bot.db.models import ChannelIdentity, Conversation, Refund, utcnow
from bot.notifications.orders import OrderNotifications, Recorded
from bot.notifications.preferences import Preferences, PreferenceStore, QuietHours
from bot.notifications.texts import load_notification_texts
from bot.notifications.timer import NotificationTimer
from bot.records.status import OrderStatusUpdates, StatusRefused
from bot.settings import PROJECT_ROOT
from tests.orders import TODAY, add_customer, add_order

TEXTS = load_notification_texts(PROJECT_ROOT / "data" / "texts.yml")
#: A fixed clock: Tuesday 12 January 2027, 21:30 UTC (22:30 in Berlin).
EVENING = dt.datetime(2027, 1, 12, 21, 30)
NOON = dt.datetime(2027, 1, 12, 11, 0)


class Rig:
    """The services on one database, and what they published."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.published: list[StoredMessage] = []
        self.updates = OrderStatusUpdates(engine, today=lambda: TODAY)
        self.preferences = PreferenceStore(engine)
        self.notifications = OrderNotifications(
            engine, store=ConversationStore(engine), texts=TEXTS, publish=self.published.append
        )

    async def report(self, number: str, event: str, now: dt.datetime = NOON, **kwargs: Any) -> tuple[Any, Recorded]:
        change = await self.updates.apply(number, event, now=now, **kwargs)
        return change, await self.notifications.order_changed(change, now=now)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(sa.text(sql), params))

    def chat(self, conversation: str) -> list[tuple[str, str, str | None]]:
        """(sender, text, outbox state) of each message of the conversation."""
        return [
            (row.sender, row.text, row.state)
            for row in self.rows(
                "SELECT m.sender, m.text, o.state FROM messages m LEFT JOIN channel_outbox o ON o.message_id = m.id"
                " WHERE m.conversation_id = :c ORDER BY m.id",
                c=conversation,
            )
        ]


def link(engine: Engine, customer: str, channel: str, external_id: str, *, days_ago: int = 0) -> None:
    at = utcnow() - dt.timedelta(days=days_ago)
    with session_factory(engine).begin() as session:
        session.add(
            ChannelIdentity(
                channel=channel, external_id=external_id, customer_id=customer, linked_at=at, last_seen_at=at
            )
        )


async def opted_in(rig: Rig, telegram: str | None = "777001", **prefs: Any) -> str:
    customer, _ = add_customer(rig.engine)
    if telegram is not None:
        link(rig.engine, customer, "telegram", telegram)
    await rig.preferences.put(Preferences(customer, True, **prefs))
    return customer


@pytest.fixture
def rig(seeded_engine: Engine) -> Rig:
    """On the demo data (orders need its products); each test makes its own customers."""
    return Rig(seeded_engine)


async def test_shipped_notifies_the_opted_in_customer_once_in_their_telegram_chat(rig: Rig) -> None:
    customer = await opted_in(rig)
    number = add_order(rig.engine, customer, "processing")
    change, recorded = await rig.report(number, "shipped", carrier="DHL", tracking_number="JJD000123")
    assert (change.changed, change.customer_id, recorded.outcome, recorded.due_at) == (True, customer, "sent", NOON)
    text = f"Good news: your order {number} has shipped with DHL. Tracking number: JJD000123."
    # A new conversation for the chat, named and addressed as the Telegram channel does.
    assert rig.chat("telegram-777001") == [("system", text, "pending")]
    [conversation] = rig.rows("SELECT channel, customer_id, address FROM conversations WHERE id = 'telegram-777001'")
    assert (conversation.channel, conversation.customer_id) == ("telegram", customer)
    [outbox] = rig.rows("SELECT platform, chat_key, address FROM channel_outbox")
    assert (outbox.platform, outbox.chat_key) == ("telegram", "telegram:777001")
    assert [m.text for m in rig.published] == [text]
    [order] = rig.rows("SELECT status, carrier, tracking_number, shipped_at FROM orders WHERE number = :n", n=number)
    assert (order.status, order.carrier, order.tracking_number) == ("shipped", "DHL", "JJD000123")

    # The same report again (the company's system retried it): nothing changes, nothing is sent again.
    change, recorded = await rig.report(number, "shipped", carrier="DHL", tracking_number="JJD000123")
    assert (change.changed, recorded.outcome) == (False, "already_recorded")
    assert len(rig.chat("telegram-777001")) == 1 and len(rig.published) == 1

    # Delivered is a new change: one more update, into the same chat.
    change, recorded = await rig.report(number, "delivered")
    assert (change.changed, recorded.outcome) == (True, "sent")
    assert [t for _, t, _ in rig.chat("telegram-777001")] == [text, TEXTS.order_delivered.format(order=number)]


async def test_two_reports_at_once_and_two_replicas_send_once(rig: Rig, migrated_database_url: str) -> None:
    customer = await opted_in(rig)
    number = add_order(rig.engine, customer, "processing")
    other_engine = create_db_engine(migrated_database_url)
    try:
        other = Rig(other_engine)
        results = await asyncio.gather(
            rig.report(number, "shipped", carrier="UPS", tracking_number="1Z999"),
            other.report(number, "shipped", carrier="UPS", tracking_number="1Z999"),
            rig.report(number, "shipped", carrier="UPS", tracking_number="1Z999"),
        )
        # ...and both replicas' timers run at the same moment.
        await asyncio.gather(rig.notifications.send_due(NOON), other.notifications.send_due(NOON))
    finally:
        other_engine.dispose()
    assert sorted(change.changed for change, _ in results) == [False, False, True]
    outcomes = sorted(recorded.outcome for _, recorded in results)
    assert outcomes.count("already_recorded") == 2 and outcomes[-1] in ("sent", "waiting"), outcomes
    assert [(s, state) for s, _, state in rig.chat("telegram-777001")] == [("system", "pending")]
    assert rig.rows("SELECT count(*) AS n FROM channel_outbox")[0].n == 1
    [row] = rig.rows("SELECT state, message_id FROM customer_notifications")
    assert row.state == "sent" and row.message_id is not None


async def test_quiet_hours_hold_the_update_until_they_end(rig: Rig) -> None:
    quiet = QuietHours(dt.time(22, 0), dt.time(7, 0))
    customer = await opted_in(rig, quiet_hours=quiet, timezone="Europe/Berlin")
    number = add_order(rig.engine, customer, "shipped")
    _, recorded = await rig.report(number, "delivered", now=EVENING)
    morning = dt.datetime(2027, 1, 13, 6, 0)  # 07:00 in Berlin
    assert (recorded.outcome, recorded.due_at) == ("waiting", morning)
    assert rig.chat("telegram-777001") == []
    timer = rig.notifications
    assert await timer.send_due(dt.datetime(2027, 1, 13, 5, 59)) == []  # 06:59 in Berlin: still quiet
    assert rig.chat("telegram-777001") == []
    assert len(await timer.send_due(morning)) == 1
    assert rig.chat("telegram-777001") == [("system", TEXTS.order_delivered.format(order=number), "pending")]
    assert await timer.send_due(morning + dt.timedelta(minutes=5)) == []  # once
    assert len(rig.chat("telegram-777001")) == 1


async def test_the_gateway_loop_sends_what_waited(rig: Rig) -> None:
    customer = await opted_in(rig)
    number = add_order(rig.engine, customer, "shipped")
    # Recorded as due a minute ago but not sent (as if the replica died right after recording it).
    past = utcnow() - dt.timedelta(minutes=1)
    with rig.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO customer_notifications (customer_id, order_number, event, conversation_id, channel,"
                " address, text, state, due_at, created_at) VALUES (:c, :n, 'delivered', 'telegram-777001',"
                " 'telegram', :a, 'Delivered!', 'waiting', :due, :due)"
            ),
            {"c": customer, "n": number, "a": '{"platform": "telegram", "chat_id": 777001}', "due": past},
        )
    async with NotificationTimer(rig.notifications, interval_s=0.05).running():
        for _ in range(100):
            if rig.chat("telegram-777001"):
                break
            await asyncio.sleep(0.05)
    assert rig.chat("telegram-777001") == [("system", "Delivered!", "pending")]


async def test_opting_out_before_the_quiet_hours_end_drops_the_update(rig: Rig) -> None:
    quiet = QuietHours(dt.time(22, 0), dt.time(7, 0))
    customer = await opted_in(rig, quiet_hours=quiet, timezone="Europe/Berlin")
    number = add_order(rig.engine, customer, "processing")
    _, recorded = await rig.report(number, "shipped", now=EVENING)
    assert recorded.outcome == "waiting"
    await rig.preferences.put(Preferences(customer, False))
    assert len(await rig.notifications.send_due(dt.datetime(2027, 1, 13, 7, 0))) == 1
    assert rig.chat("telegram-777001") == []
    assert [r.state for r in rig.rows("SELECT state FROM customer_notifications")] == ["dropped"]


async def test_no_update_without_opt_in_or_without_a_linked_chat(rig: Rig) -> None:
    shy, _ = add_customer(rig.engine)  # never opted in, though linked
    link(rig.engine, shy, "telegram", "777002")
    number = add_order(rig.engine, shy, "processing")
    change, recorded = await rig.report(number, "shipped")
    assert (change.changed, recorded) == (True, Recorded("not_opted_in"))
    opted_out = await opted_in(rig, telegram="777003")
    await rig.preferences.put(Preferences(opted_out, False))
    _, recorded = await rig.report(add_order(rig.engine, opted_out, "processing"), "shipped")
    assert recorded.outcome == "not_opted_in"
    unlinked = await opted_in(rig, telegram=None)
    link(rig.engine, unlinked, "web", "visitor-1")  # the widget cannot be written to later
    _, recorded = await rig.report(add_order(rig.engine, unlinked, "processing"), "shipped")
    assert recorded == Recorded("no_linked_chat")
    assert rig.rows("SELECT count(*) AS n FROM messages")[0].n == 0
    assert rig.rows("SELECT count(*) AS n FROM customer_notifications")[0].n == 0


async def test_a_slack_customer_gets_it_in_their_direct_message_conversation(rig: Rig) -> None:
    customer = await opted_in(rig, telegram=None)
    link(rig.engine, customer, "slack", "U0ANNA")
    address = {"platform": "slack", "team": "T0NIMBUS", "channel": "D0ANNA", "thread_ts": None}
    thread = {**address, "channel": "C0SUPPORT", "thread_ts": "1700000000.000100"}
    now = utcnow()
    with session_factory(rig.engine).begin() as session:
        session.add(Conversation(id="slack-T0NIMBUS-D0ANNA", channel="slack", customer_id=customer, address=address))
        session.add(
            Conversation(
                id="slack-T0NIMBUS-C0SUPPORT-1700000000.000100",
                channel="slack",
                customer_id=customer,
                address=thread,
                updated_at=now + dt.timedelta(minutes=1),  # newer, but a thread in a shared channel
            )
        )
    number = add_order(rig.engine, customer, "processing")
    _, recorded = await rig.report(number, "shipped")
    assert recorded.outcome == "sent"
    assert len(rig.chat("slack-T0NIMBUS-D0ANNA")) == 1
    [outbox] = rig.rows("SELECT platform, chat_key FROM channel_outbox")
    assert (outbox.platform, outbox.chat_key) == ("slack", "slack:T0NIMBUS:D0ANNA")


async def test_a_refund_issued_says_how_much(rig: Rig) -> None:
    customer = await opted_in(rig)
    number = add_order(rig.engine, customer, "cancelled")
    with session_factory(rig.engine).begin() as session:
        session.add(
            Refund(
                order_number=number,
                customer_id=customer,
                amount_cents=12999,
                currency="EUR",
                method="paypal",
                status="pending",
                expected_by=TODAY + dt.timedelta(days=5),
            )
        )
    change, recorded = await rig.report(number, "refund_issued")
    assert (change.changed, change.refund_cents, recorded.outcome) == (True, 12999, "sent")
    [(_, text, _)] = rig.chat("telegram-777001")
    assert text == TEXTS.refund_issued.format(order=number, amount="€129.99")
    [refund] = rig.rows("SELECT status, issued_on FROM refunds WHERE order_number = :n", n=number)
    assert refund.status == "issued" and refund.issued_on is not None
    change, recorded = await rig.report(number, "refund_issued")
    assert (change.changed, recorded.outcome) == (False, "already_recorded")


async def test_unknown_orders_and_impossible_changes_are_refused(rig: Rig) -> None:
    customer = await opted_in(rig)
    with pytest.raises(StatusRefused) as refused:
        await rig.updates.apply("999999", "shipped")
    assert refused.value.reason == "unknown_order"
    with pytest.raises(StatusRefused) as refused:
        await rig.updates.apply("999999", "refund_issued")
    assert refused.value.reason == "unknown_order"
    cancelled = add_order(rig.engine, customer, "cancelled")
    delivered = add_order(rig.engine, customer, "delivered", delivered_days_ago=1)
    processing = add_order(rig.engine, customer, "processing")
    for number, event, current in (
        (cancelled, "shipped", "cancelled"),
        (cancelled, "delivered", "cancelled"),
        (delivered, "shipped", "delivered"),
        (processing, "refund_issued", "processing"),  # no refund to issue
    ):
        with pytest.raises(StatusRefused) as refused:
            await rig.updates.apply(number, event)
        assert (refused.value.reason, refused.value.current) == ("impossible", current)
    with pytest.raises(ValueError):
        await rig.updates.apply(processing, "lost")
    assert rig.rows("SELECT status FROM orders WHERE number = :n", n=cancelled)[0].status == "cancelled"
    assert rig.rows("SELECT count(*) AS n FROM customer_notifications")[0].n == 0
