"""Privacy requests: export everything about a customer, erase the bot's data about them, and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.__main__ import main
from bot.db.engine import create_db_engine, session_factory
from bot.db.migrate import upgrade
from bot.db.models import (
    ChannelIdentity,
    Conversation,
    Handoff,
    LinkCode,
    LinkFailure,
    Message,
    Order,
    RecordAccess,
    Sender,
)
from bot.db.seed import DemoData, seed_database
from bot.identity.privacy import UnknownCustomer, erase_customer, export_customer, tracker_db_url
from bot.settings import Settings

CUSTOMER = "C1003"
OTHER = "C1006"
AT = dt.datetime(2026, 11, 20, 9, 0)


def _add_bot_data(engine: Engine, customer_id: str, tag: str) -> None:
    """Two conversations with messages and a handoff, a linked identity, link codes, failures and audit rows."""
    with session_factory(engine)() as session, session.begin():
        for n in (1, 2):
            conversation_id = f"{tag}-conv-{n}"
            session.add(Conversation(id=conversation_id, channel="web", customer_id=customer_id, created_at=AT))
            session.flush()
            session.add_all(
                [
                    Message(conversation_id=conversation_id, sender=Sender.CUSTOMER, text=f"{tag} hello {n}"),
                    Message(conversation_id=conversation_id, sender=Sender.BOT, text=f"{tag} reply {n}"),
                ]
            )
        session.add(Handoff(conversation_id=f"{tag}-conv-1", reason="asked_for_human", packet={"tag": tag}))
        session.add(
            ChannelIdentity(channel="telegram", external_id=f"{tag}-chat", customer_id=customer_id, linked_at=AT)
        )
        session.add(
            LinkCode(
                channel="telegram",
                external_id=f"{tag}-chat",
                customer_id=customer_id,
                code_hash="0" * 64,
                expires_at=AT,
                used_at=AT,
            )
        )
        session.add(LinkFailure(channel="telegram", external_id=f"{tag}-chat", at=AT))
        session.add(RecordAccess(customer_id=customer_id, record_kind="order", channel="web", outcome="found"))


def _tracker(path: Path, senders: dict[str, int]) -> str:
    """A Rasa-like SQL tracker store: an ``events`` table with ``count`` events per sender."""
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) "
            "NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"
        )
        for sender, count in senders.items():
            for n in range(count):
                data = json.dumps({"event": "user", "text": f"{sender} says {n}", "timestamp": 1000.0 + n})
                connection.execute(
                    "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, 'user', ?, ?)",
                    (sender, 1000.0 + n, data),
                )
    return f"sqlite:///{path}"


def _count(engine: Engine, model: type, *where: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def _tracker_senders(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id").fetchall()
    return {sender: count for sender, count in rows}


@pytest.fixture
def populated(seeded_engine: Engine) -> Engine:
    _add_bot_data(seeded_engine, CUSTOMER, "mine")
    _add_bot_data(seeded_engine, OTHER, "theirs")
    return seeded_engine


def test_export_has_every_section_and_nothing_of_others(populated: Engine, tmp_path: Path) -> None:
    url = _tracker(tmp_path / "tracker.db", {"mine-conv-1": 3, "mine-conv-2": 1, "theirs-conv-1": 2})
    export = export_customer(populated, CUSTOMER, url)
    assert set(export) == {
        "customer",
        "channel_identities",
        "orders",
        "devices",
        "subscriptions",
        "invoices",
        "conversations",
        "record_access",
        "tracker_events",
        "tracker_store",
    }
    assert export["customer"]["id"] == CUSTOMER and export["customer"]["email"] == "sophie.becker8@example.com"
    assert len(export["orders"]) == 4 and all(order["items"] for order in export["orders"])
    assert export["devices"] and export["subscriptions"] and len(export["invoices"]) == 9
    assert [c["id"] for c in export["conversations"]] == ["mine-conv-1", "mine-conv-2"]
    first = export["conversations"][0]
    assert [m["text"] for m in first["messages"]] == ["mine hello 1", "mine reply 1"]
    assert first["messages"][0]["sender"] == "customer"
    assert first["handoffs"][0]["reason"] == "asked_for_human"
    assert export["channel_identities"][0]["external_id"] == "mine-chat"
    assert export["record_access"][0]["record_kind"] == "order"
    assert export["tracker_store"] == "read"
    assert len(export["tracker_events"]) == 4
    assert export["tracker_events"][0]["data"]["text"] == "mine-conv-1 says 0"
    dumped = json.dumps(export)  # JSON-ready as is
    for foreign in (OTHER, "theirs", "felix.wagner", "C1001"):
        assert foreign not in dumped


def test_export_without_a_tracker_store(populated: Engine, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "tracker.db"
    export = export_customer(populated, CUSTOMER, f"sqlite:///{missing}")
    assert (export["tracker_store"], export["tracker_events"]) == ("missing", [])
    assert not missing.exists() and not missing.parent.exists()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert export_customer(populated, CUSTOMER, f"sqlite:///{empty}")["tracker_store"] == "missing"
    assert export_customer(populated, CUSTOMER, None)["tracker_store"] == "not_configured"


def test_unknown_customer(populated: Engine) -> None:
    with pytest.raises(UnknownCustomer):
        export_customer(populated, "C9999", None)
    with pytest.raises(UnknownCustomer):
        erase_customer(populated, "C9999", None)


def test_erase_removes_the_bot_data_of_that_customer_only(populated: Engine, tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    url = _tracker(path, {"mine-conv-1": 3, "mine-conv-2": 1, "theirs-conv-1": 2})
    orders_before = _count(populated, Order, Order.customer_id == CUSTOMER)
    counts = erase_customer(populated, CUSTOMER, url)
    assert counts == {
        "conversations": 2,
        "messages": 4,
        "handoffs": 1,
        "channel_inbox": 0,
        "channel_outbox": 0,
        "channel_identities": 1,
        "link_codes": 1,
        "link_failures": 1,
        "tracker_events": 4,
    }
    assert _count(populated, Conversation, Conversation.customer_id == CUSTOMER) == 0
    assert _count(populated, Message, Message.conversation_id.like("mine-%")) == 0
    assert _count(populated, ChannelIdentity, ChannelIdentity.customer_id == CUSTOMER) == 0
    assert _count(populated, LinkFailure, LinkFailure.external_id == "mine-chat") == 0
    # Company records and the audit stay.
    assert _count(populated, Order, Order.customer_id == CUSTOMER) == orders_before > 0
    assert _count(populated, RecordAccess, RecordAccess.customer_id == CUSTOMER) == 1
    export = export_customer(populated, CUSTOMER, url)
    assert export["customer"]["id"] == CUSTOMER and export["devices"] and export["invoices"]
    assert export["conversations"] == [] and export["tracker_events"] == []
    # The other customer is untouched.
    assert _count(populated, Conversation, Conversation.customer_id == OTHER) == 2
    assert _count(populated, Message, Message.conversation_id.like("theirs-%")) == 4
    assert _count(populated, Handoff) == 1
    assert _count(populated, LinkCode) == 1 and _count(populated, LinkFailure) == 1
    assert _tracker_senders(path) == {"theirs-conv-1": 2}
    # Erasing again finds nothing more.
    assert set(erase_customer(populated, CUSTOMER, url).values()) == {0}


# -- CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_data: DemoData) -> Path:
    """BOT_* variables pointing at a seeded SQLite database and a tracker DB under tmp_path."""
    database_url = f"sqlite:///{tmp_path / 'bot.db'}"
    upgrade(database_url)
    engine = create_db_engine(database_url)
    try:
        seed_database(engine, demo_data)
        _add_bot_data(engine, CUSTOMER, "mine")
    finally:
        engine.dispose()
    tracker = tmp_path / "tracker.db"
    _tracker(tracker, {"mine-conv-1": 2})
    for name, value in {
        "BOT_ENV": "test",
        "BOT_VAR_DIR": str(tmp_path / "var"),
        "BOT_DATABASE_URL": database_url,
        "BOT_TRACKER_DB": str(tracker),
        "BOT_IDENTITY_SECRET": "cli-secret",
        "BOT_API_TOKEN": "a",
        "BOT_AGENT_TOKEN": "b",
        "BOT_RASA_TOKEN": "c",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def test_cli_export(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["customers", "export", CUSTOMER]) == 0
    export = json.loads(capsys.readouterr().out)
    assert export["customer"]["id"] == CUSTOMER and len(export["tracker_events"]) == 2
    assert main(["customers", "export", "C9999"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "no customer with id 'C9999'" in captured.err


def test_cli_erase_needs_yes(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["customers", "erase", CUSTOMER]) == 2
    assert "--yes" in capsys.readouterr().err
    assert _tracker_senders(cli_env / "tracker.db") == {"mine-conv-1": 2}
    assert main(["customers", "erase", CUSTOMER, "--yes"]) == 0
    out = capsys.readouterr().out
    assert "conversations: 2" in out and "tracker_events: 2" in out
    assert _tracker_senders(cli_env / "tracker.db") == {}
    assert main(["customers", "erase", "C9999", "--yes"]) == 1


def test_tracker_url_follows_the_settings(settings: Settings) -> None:
    assert tracker_db_url(settings.paths) == f"sqlite:///{settings.paths.tracker_db}"
