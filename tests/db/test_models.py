"""Constraints and cascades of the models hold on the migrated schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.db.engine import session_factory
from bot.db.models import ChannelIdentity, Conversation, Handoff, HandoffStatus, Message, Sender


def _count(engine: Engine, model: type) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def _conversation(engine: Engine, conversation_id: str, messages: int = 2) -> None:
    with session_factory(engine)() as session:
        session.add(Conversation(id=conversation_id, channel="web"))
        session.flush()
        for index in range(messages):
            session.add(
                Message(
                    conversation_id=conversation_id, sender=Sender.CUSTOMER, text=f"m{index}", client_id=f"k{index}"
                )
            )
        session.add(Handoff(conversation_id=conversation_id, reason="asked_for_human", packet={"summary": "x"}))
        session.commit()


def test_channel_identity_is_unique_per_channel_and_external_id(migrated_engine: Engine) -> None:
    factory = session_factory(migrated_engine)
    with factory() as session:
        session.add(ChannelIdentity(channel="slack", external_id="U123"))
        session.add(ChannelIdentity(channel="telegram", external_id="U123"))  # other channel: fine
        session.commit()
    with factory() as session:
        session.add(ChannelIdentity(channel="slack", external_id="U123"))
        with pytest.raises(IntegrityError):
            session.commit()
    assert _count(migrated_engine, ChannelIdentity) == 2


def test_message_client_id_is_unique_per_conversation(migrated_engine: Engine) -> None:
    _conversation(migrated_engine, "conv-a")
    _conversation(migrated_engine, "conv-b")  # same client ids, other conversation: fine
    factory = session_factory(migrated_engine)
    with factory() as session:
        session.add(Message(conversation_id="conv-a", sender=Sender.CUSTOMER, text="again", client_id="k0"))
        with pytest.raises(IntegrityError):
            session.commit()
    with factory() as session:  # messages without a client id never collide
        session.add_all(Message(conversation_id="conv-a", sender=Sender.BOT, text="hi") for _ in range(3))
        session.commit()
    assert _count(migrated_engine, Message) == 7


def test_deleting_a_conversation_in_sql_cascades(migrated_engine: Engine) -> None:
    _conversation(migrated_engine, "conv-a", messages=3)
    _conversation(migrated_engine, "conv-b", messages=1)
    with migrated_engine.begin() as connection:
        connection.execute(delete(Conversation.__table__).where(Conversation.__table__.c.id == "conv-a"))
    assert _count(migrated_engine, Message) == 1
    assert _count(migrated_engine, Handoff) == 1


@pytest.mark.parametrize("load_messages", [False, True], ids=["unloaded", "loaded"])
def test_deleting_a_conversation_in_the_session_cascades(migrated_engine: Engine, load_messages: bool) -> None:
    _conversation(migrated_engine, "conv-a", messages=3)
    with session_factory(migrated_engine)() as session:
        conversation = session.get(Conversation, "conv-a")
        assert conversation is not None
        if load_messages:
            assert len(conversation.messages) == 3
        session.delete(conversation)
        session.commit()
    assert _count(migrated_engine, Message) == 0
    assert _count(migrated_engine, Handoff) == 0


def test_enums_are_stored_as_their_values(migrated_engine: Engine) -> None:
    _conversation(migrated_engine, "conv-a", messages=1)
    with migrated_engine.connect() as connection:
        sender = connection.execute(text("SELECT sender FROM messages")).scalar_one()
        status = connection.execute(text("SELECT status FROM handoffs")).scalar_one()
    assert (sender, status) == ("customer", "open")
    with session_factory(migrated_engine)() as session:
        handoff = session.execute(select(Handoff)).scalar_one()
        assert handoff.status is HandoffStatus.OPEN and handoff.packet == {"summary": "x"}
