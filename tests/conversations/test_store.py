"""A turn's writes in one trip each: arrive, finish_turn and turn_answer (SQLite, PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from bot.channels.inbox import Inbox
from bot.conversations.store import ConversationStore, InboxMark
from bot.core.messages import Button
from bot.db.models import Conversation, Customer, Handoff, InboxItem, OutboxItem


async def test_the_first_message_opens_the_conversation(migrated_engine: Engine) -> None:
    store = ConversationStore(migrated_engine)
    arrived = await store.arrive("c-1", "direct", "hi", client_id="k1")
    assert arrived.new and arrived.first and arrived.handoff is None
    assert arrived.message.sender == "customer" and arrived.message.text == "hi"
    info = await store.get("c-1")
    assert info is not None and info.channel == "direct" and info.customer_id is None
    second = await store.arrive("c-1", "direct", "and another thing", client_id="k2")
    assert second.new and not second.first and second.message.cursor > arrived.message.cursor
    copy = await store.arrive("c-1", "direct", "hi", client_id="k1")  # re-sent: the stored one comes back
    assert not copy.new and copy.message.cursor == arrived.message.cursor
    assert [m.text for m in await store.messages_after("c-1", None)] == ["hi", "and another thing"]


async def test_arrive_records_the_verified_customer_the_inbox_state_and_an_open_handoff(
    migrated_engine: Engine,
) -> None:
    with migrated_engine.begin() as connection:
        connection.execute(insert(Customer).values(id="CU-1", name="Ada", email="ada@example.com"))
    store, inbox = ConversationStore(migrated_engine), Inbox(migrated_engine, "gw-a")
    await store.arrive("c-1", "web", "hello")
    event, _ = await inbox.accept_or_find("web", "c-1:k1", "c-1", {"text": "my order"})
    assert event is not None
    with migrated_engine.begin() as connection:
        connection.execute(insert(Handoff).values(conversation_id="c-1", reason="customer_request"))
    arrived = await store.arrive(
        "c-1", "web", "my order", customer_id="CU-1", client_id="k1", inbox=InboxMark(event.id, "stored")
    )
    assert arrived.new and not arrived.first and arrived.handoff is not None and arrived.handoff.status == "open"
    info = await store.get("c-1")
    assert info is not None and info.customer_id == "CU-1"
    stored = await inbox.get(event.id)
    assert stored is not None and stored.state == "stored"


async def test_finish_turn_stores_the_replies_closes_the_event_and_fills_the_outbox(migrated_engine: Engine) -> None:
    store, inbox = ConversationStore(migrated_engine), Inbox(migrated_engine, "gw-a")
    address = {"platform": "telegram", "chat_id": 42}
    customer = (await store.arrive("c-tg", "telegram", "hi", address=address)).message
    event, _ = await inbox.accept_or_find("telegram", "u-1", "c-tg", {"text": "hi"})
    assert event is not None
    replies, handoff = await store.finish_turn(
        "c-tg", [("Hello!", ()), ("Pick one", (Button("A", "/a"),))], inbox=InboxMark(event.id, "done", customer.cursor)
    )
    assert [r.text for r in replies] == ["Hello!", "Pick one"] and handoff is None
    assert replies[1].buttons == (Button("A", "/a"),) and all(r.sender == "bot" for r in replies)
    done = await inbox.get(event.id)
    assert done is not None and done.state == "done"
    assert done.result == {"customer": customer.cursor, "replies": [r.cursor for r in replies]}
    with migrated_engine.connect() as connection:
        queued = connection.execute(select(OutboxItem.message_id).order_by(OutboxItem.id)).scalars().all()
        lease = connection.execute(select(InboxItem.lease_owner).where(InboxItem.id == event.id)).scalar()
        touched = connection.execute(select(Conversation.updated_at).where(Conversation.id == "c-tg")).scalar()
    assert queued == [r.cursor for r in replies] and lease is None
    assert touched == replies[-1].created_at
    answer, _ = await store.turn_answer("c-tg", [replies[1].cursor, replies[0].cursor, 10**9])
    assert [m.cursor for m in answer] == [r.cursor for r in replies]  # in order, unknown cursors left out
