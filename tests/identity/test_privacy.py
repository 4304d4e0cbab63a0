"""Privacy requests: export everything about a customer, erase the bot's data about them, and the CLI."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from bot.__main__ import main
from bot.db.engine import create_db_engine, session_factory
from bot.db.migrate import upgrade
from bot.db.models import (
    ChannelIdentity,
    ContactChange,
    Conversation,
    CustomerGuide,
    Handoff,
    HelpAnswer,
    LinkCode,
    LinkFailure,
    Message,
    Order,
    RecordAccess,
    Sender,
    ServiceRequest,
    SlackDeskPost,
)
from bot.db.seed import DemoData, seed_database
from bot.identity.mailer import MaildirMailer
from bot.identity.privacy import (
    CopiesNotErased,
    CustomerCopies,
    MailFolderCopies,
    TrackerStoreUnavailable,
    UnknownCustomer,
    erase_customer,
    export_customer,
)
from bot.settings import Settings, load_settings
from tests.fakes.slack import FakeSlack
from tests.stack import serve_in_thread

CUSTOMER = "C1003"
CUSTOMER_EMAIL = "sophie.becker8@example.com"  # data/records/customers.csv
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
            HelpAnswer(conversation_id=f"{tag}-conv-2", decision="answer", section_id="returns-policy#x", score=0.7)
        )
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
        state = {"version": 1, "guide": "wifi_drops", "node": "status_led", "path": [["which_device", "A router"]]}
        session.add(
            CustomerGuide(
                customer_id=customer_id,
                guide_id="wifi_drops",
                state=state,
                channel="web",
                conversation_id=f"{tag}-conv-1",
                paused_at=AT,
            )
        )


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
        "service_requests",
        "returns",
        "refunds",
        "paused_guides",
        "notification_settings",
        "notifications",
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
    assert [(g["guide_id"], g["conversation_id"]) for g in export["paused_guides"]] == [("wifi_drops", "mine-conv-1")]
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


async def test_unknown_customer(populated: Engine) -> None:
    with pytest.raises(UnknownCustomer):
        export_customer(populated, "C9999", None)
    with pytest.raises(UnknownCustomer):
        await erase_customer(populated, "C9999", None)


async def test_erase_removes_the_bot_data_of_that_customer_only(populated: Engine, tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    url = _tracker(path, {"mine-conv-1": 3, "mine-conv-2": 1, "theirs-conv-1": 2})
    orders_before = _count(populated, Order, Order.customer_id == CUSTOMER)
    with populated.begin() as connection:
        for who in (CUSTOMER, OTHER):  # both asked in the chat for their account to be deleted
            connection.execute(
                ServiceRequest.__table__.insert().values(
                    customer_id=who,
                    idempotency_key=f"account_deletion-{who}",
                    kind="account_deletion",
                    outcome="pending",
                    reference=f"P{who}",
                    result={},
                    created_at=dt.datetime(2026, 12, 1),
                )
            )
        connection.execute(
            ContactChange.__table__.insert().values(
                customer_id=CUSTOMER,
                kind="email",
                new_value="new@example.org",
                code_hash="x",
                tries=0,
                expires_at=dt.datetime(2026, 12, 1),
                created_at=dt.datetime(2026, 12, 1),
            )
        )
    counts = await erase_customer(populated, CUSTOMER, url)
    assert _count(populated, ServiceRequest, ServiceRequest.outcome == "pending") == 1  # the other customer's
    assert _count(populated, ServiceRequest, ServiceRequest.customer_id == CUSTOMER) == 1  # kept, done
    assert counts == {
        "contact_changes": 1,
        "deletion_requests_completed": 1,
        "conversations": 2,
        "messages": 4,
        "handoffs": 1,
        "help_answers": 1,
        "channel_inbox": 0,
        "channel_outbox": 0,
        "channel_identities": 1,
        "link_codes": 1,
        "link_failures": 1,
        "paused_guides": 1,
        "notifications": 0,
        "tracker_events": 4,
    }
    assert _count(populated, CustomerGuide, CustomerGuide.customer_id == OTHER) == 1
    assert _count(populated, Conversation, Conversation.customer_id == CUSTOMER) == 0
    assert _count(populated, Message, Message.conversation_id.like("mine-%")) == 0
    assert _count(populated, HelpAnswer, HelpAnswer.conversation_id.like("mine-%")) == 0
    assert _count(populated, HelpAnswer, HelpAnswer.conversation_id.like("theirs-%")) == 1
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
    assert set((await erase_customer(populated, CUSTOMER, url)).values()) == {0}


# -- CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_data: DemoData) -> Path:
    """BOT_* variables pointing at a seeded SQLite database and a tracker DB under tmp_path."""
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(database_url)
    engine = create_db_engine(database_url)
    try:
        seed_database(engine, demo_data)
        _add_bot_data(engine, CUSTOMER, "mine")
    finally:
        engine.dispose()
    tracker = tmp_path / "tracker.db"
    _tracker(tracker, {"mine-conv-1": 2})
    monkeypatch.delenv("BOT_TRACKER_URL", raising=False)
    for name in ("BOT_SLACK_BOT_TOKEN", "BOT_SLACK_APP_TOKEN", "BOT_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
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


def test_tracker_url_follows_the_settings(settings: Settings, tmp_path: Path) -> None:
    assert settings.dialogue.tracker_url == f"sqlite:///{settings.paths.tracker_db}"
    named = load_settings({"BOT_VAR_DIR": str(tmp_path), "BOT_TRACKER_URL": "postgresql://rasa@db.internal/tracker"})
    assert named.dialogue.tracker_url == "postgresql://rasa@db.internal/tracker"
    assert named.child_environment()["BOT_TRACKER_URL"] == "postgresql://rasa@db.internal/tracker"


# -- the tracker store as Rasa writes it, on SQLite and PostgreSQL -----------------------------


async def _rasa_tracker(url: str, turns: dict[str, int]) -> None:
    """Rasa's own SQL tracker store saves ``turns`` exchanges (user says, bot answers) per conversation."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import ActionExecuted, BotUttered, Event, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    store = SQLTrackerStore(host=url)  # a whole URL in `host`, as endpoints.yml passes BOT_TRACKER_URL
    try:
        for sender, count in turns.items():
            events: list[Event] = [ActionExecuted("action_listen")]
            for n in range(count):
                events += [
                    UserUttered(f"{sender} says {n}", intent={"name": "greet", "confidence": 0.9}),
                    BotUttered(f"answer {n}"),
                ]
            await store.save(DialogueStateTracker.from_events(sender, events))
    finally:
        store.engine.dispose()


def _tracker_rows(url: str) -> dict[str, int]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id")).all()
    finally:
        engine.dispose()
    return {str(sender): int(count) for sender, count in rows}


def _user_texts(export: dict) -> list[str]:
    return [event["data"]["text"] for event in export["tracker_events"] if event["type_name"] == "user"]


async def test_export_and_erase_the_events_rasa_stored(populated: Engine, database_url: str) -> None:
    """The tracker store on the database of ``database_url`` (SQLite file or PostgreSQL), written by Rasa."""
    await _rasa_tracker(database_url, {"mine-conv-1": 2, "mine-conv-2": 1, "theirs-conv-1": 1})
    export = export_customer(populated, CUSTOMER, database_url)
    assert export["tracker_store"] == "read"
    assert _user_texts(export) == ["mine-conv-1 says 0", "mine-conv-1 says 1", "mine-conv-2 says 0"]
    assert {e["sender_id"] for e in export["tracker_events"]} == {"mine-conv-1", "mine-conv-2"}
    user = next(e for e in export["tracker_events"] if e["type_name"] == "user")
    assert (user["intent_name"], user["action_name"]) == ("greet", None)
    listen = next(e for e in export["tracker_events"] if e["type_name"] == "action")
    assert listen["action_name"] == "action_listen"
    counts = await erase_customer(populated, CUSTOMER, database_url)
    assert counts["tracker_events"] == (1 + 2 * 2) + (1 + 2 * 1)
    assert _tracker_rows(database_url) == {"theirs-conv-1": 3}
    assert export_customer(populated, CUSTOMER, database_url)["tracker_events"] == []


async def test_an_unreachable_tracker_store_stops_the_erasure_before_anything_is_deleted(populated: Engine) -> None:
    unreachable = "postgresql://rasa:s3cret@127.0.0.1:1/tracker"  # nothing listens on port 1
    with pytest.raises(TrackerStoreUnavailable) as raised:
        await erase_customer(populated, CUSTOMER, unreachable)
    assert "s3cret" not in str(raised.value) and "127.0.0.1:1" in str(raised.value)
    with pytest.raises(TrackerStoreUnavailable):
        export_customer(populated, CUSTOMER, unreachable)
    assert _count(populated, Conversation, Conversation.customer_id == CUSTOMER) == 2


def test_cli_reaches_the_tracker_store_named_by_bot_tracker_url(
    cli_env: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_rasa_tracker(database_url, {"mine-conv-1": 1, "theirs-conv-1": 1}))
    monkeypatch.setenv("BOT_TRACKER_URL", database_url)
    assert main(["customers", "export", CUSTOMER]) == 0
    assert _user_texts(json.loads(capsys.readouterr().out)) == ["mine-conv-1 says 0"]
    assert main(["customers", "erase", CUSTOMER, "--yes"]) == 0
    assert "tracker_events: 3" in capsys.readouterr().out
    assert _tracker_rows(database_url) == {"theirs-conv-1": 3}
    assert _tracker_senders(cli_env / "tracker.db") == {"mine-conv-1": 2}  # BOT_TRACKER_DB is not the store now


def test_cli_says_when_the_tracker_store_cannot_be_reached(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOT_TRACKER_URL", "postgresql://rasa:s3cret@127.0.0.1:1/tracker")
    assert main(["customers", "erase", CUSTOMER, "--yes"]) == 1
    err = capsys.readouterr().err
    assert "tracker store" in err and "nothing was erased" in err and "s3cret" not in err


# -- copies outside the database: the Slack desk's posts, development mails --------------------


def _handoff_of(engine: Engine, tag: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(select(Handoff.id).where(Handoff.conversation_id == f"{tag}-conv-1")).scalar_one()
        )


async def _desk_thread(
    engine: Engine, client: AsyncWebClient, handoff_id: int, replies: int
) -> tuple[tuple[str, str], list[tuple[str, str]]]:
    """What the Slack desk leaves of a handoff: its root message and ``replies`` posts in the thread, recorded."""
    root = await client.chat_postMessage(channel="#support-agents", text=f"New handoff #{handoff_id}")
    posts = [
        await client.chat_postMessage(channel=root["channel"], thread_ts=root["ts"], text=f"*Customer:* hi {n}")
        for n in range(replies)
    ]
    with session_factory(engine).begin() as session:
        session.add(SlackDeskPost(handoff_id=handoff_id, channel=root["channel"], ts=root["ts"], kind="root"))
        for post in posts:
            session.add(SlackDeskPost(handoff_id=handoff_id, channel=post["channel"], ts=post["ts"], kind="thread"))
    return (root["channel"], root["ts"]), [(post["channel"], post["ts"]) for post in posts]


def _slack_copies(client: AsyncWebClient | None, engine: Engine) -> CustomerCopies:
    from bot.agentdesk.erasure import SlackDeskCopies

    return SlackDeskCopies(client, engine)


def _erased_text() -> str:
    from bot.agentdesk.texts import SlackDeskTexts

    return SlackDeskTexts().erased


async def test_erase_deletes_the_slack_desk_copies_of_that_customer_only(
    populated: Engine, slack: tuple[FakeSlack, str]
) -> None:
    fake, api_url = slack
    client = AsyncWebClient(token="xoxb-test", base_url=api_url)
    mine_root, mine = await _desk_thread(populated, client, _handoff_of(populated, "mine"), replies=2)
    theirs_root, theirs = await _desk_thread(populated, client, _handoff_of(populated, "theirs"), replies=1)
    before = dict(fake.live)
    fake.calls.clear()
    counts = await erase_customer(populated, CUSTOMER, None, copies=[_slack_copies(client, populated)])
    assert (counts["slack_messages"], counts["slack_threads"]) == (2, 1)
    assert sorted((c["channel"], c["ts"]) for c in fake.called("chat.delete")) == sorted(mine)
    [update] = fake.called("chat.update")
    assert (update["channel"], update["ts"]) == mine_root
    # The root keeps the thread (agents' own replies hang on it) but no longer shows the customer or the summary.
    shown = json.dumps([update["text"], update["blocks"]])
    assert update["text"] == _erased_text() and _erased_text() in shown
    assert CUSTOMER not in shown and "mine" not in shown
    assert fake.live == {mine_root: _erased_text(), theirs_root: before[theirs_root], theirs[0]: before[theirs[0]]}
    with populated.connect() as connection:
        left = connection.execute(select(SlackDeskPost.channel, SlackDeskPost.ts)).all()
    assert sorted(tuple(row) for row in left) == sorted([theirs_root, *theirs])
    fake.calls.clear()
    again = await erase_customer(populated, CUSTOMER, None, copies=[_slack_copies(client, populated)])
    assert fake.calls == [] and set(again.values()) == {0}


async def test_a_message_already_gone_from_slack_counts_as_erased(
    populated: Engine, slack: tuple[FakeSlack, str]
) -> None:
    fake, api_url = slack
    client = AsyncWebClient(token="xoxb-test", base_url=api_url)
    root, mine = await _desk_thread(populated, client, _handoff_of(populated, "mine"), replies=2)
    await client.chat_delete(channel=mine[0][0], ts=mine[0][1])  # someone removed it in Slack already
    counts = await erase_customer(populated, CUSTOMER, None, copies=[_slack_copies(client, populated)])
    assert (counts["slack_messages"], counts["slack_threads"]) == (2, 1)
    assert [c.outcome for c in fake.calls if c.method == "chat.delete"] == ["ok", "error", "ok"]
    assert fake.live == {root: _erased_text()}
    assert _count(populated, SlackDeskPost) == 0


async def test_a_slack_failure_stops_the_erasure_before_the_database_and_a_rerun_finishes(
    populated: Engine, slack: tuple[FakeSlack, str], tmp_path: Path
) -> None:
    fake, api_url = slack
    client = AsyncWebClient(token="xoxb-test", base_url=api_url)
    path = tmp_path / "tracker.db"
    url = _tracker(path, {"mine-conv-1": 1})
    mine_root, mine = await _desk_thread(populated, client, _handoff_of(populated, "mine"), replies=2)
    fake.fail_next("chat.delete", "5xx")
    with pytest.raises(CopiesNotErased, match="Slack"):
        await erase_customer(populated, CUSTOMER, url, copies=[_slack_copies(client, populated)])
    assert _count(populated, Conversation, Conversation.customer_id == CUSTOMER) == 2
    assert _count(populated, Handoff) == 2
    assert _tracker_senders(path) == {"mine-conv-1": 1}
    counts = await erase_customer(populated, CUSTOMER, url, copies=[_slack_copies(client, populated)])
    assert counts["conversations"] == 2 and counts["tracker_events"] == 1
    assert not set(mine) & set(fake.live) and fake.live[mine_root] == _erased_text()


async def test_slack_copies_without_a_slack_token_stop_the_erasure(
    populated: Engine, slack: tuple[FakeSlack, str]
) -> None:
    _, api_url = slack
    await _desk_thread(
        populated, AsyncWebClient(token="xoxb-test", base_url=api_url), _handoff_of(populated, "mine"), 1
    )
    with pytest.raises(CopiesNotErased, match="BOT_SLACK_BOT_TOKEN"):
        await erase_customer(populated, CUSTOMER, None, copies=[_slack_copies(None, populated)])
    assert _count(populated, Conversation, Conversation.customer_id == CUSTOMER) == 2
    # A customer of whom the desk posted nothing needs no Slack.
    counts = await erase_customer(populated, OTHER, None, copies=[_slack_copies(None, populated)])
    assert counts["conversations"] == 2 and counts["slack_messages"] == 0


async def test_erase_deletes_the_development_mails_sent_to_the_customer(populated: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    mailer = MaildirMailer(folder, "Nimbus Support <support@nimbus.example>")
    mailer.send(CUSTOMER_EMAIL, "Your Nimbus code", "Your code is 123456")
    mailer.send(CUSTOMER_EMAIL.upper(), "Your Nimbus code", "Your code is 654321")
    mailer.send("jonask@example.org", "Your Nimbus code", "Your code is 111111")
    (folder / "README.txt").write_text("not a mail")
    (folder / "broken.eml").write_bytes(b"\xff\xfe not a mail at all")
    counts = await erase_customer(populated, CUSTOMER, None, copies=[MailFolderCopies(folder)])
    assert counts["mails"] == 2
    left = sorted(path.name for path in folder.iterdir())
    assert len(left) == 3 and "README.txt" in left and "broken.eml" in left
    kept = next(folder.glob("2*.eml")).read_text()
    assert "jonask@example.org" in kept
    assert (await erase_customer(populated, CUSTOMER, None, copies=[MailFolderCopies(tmp_path / "none")]))["mails"] == 0


def test_cli_erase_removes_the_slack_copies_and_mails_and_says_what_it_cannot(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_db_engine(f"sqlite:///{cli_env / 'cli.db'}")
    fake = FakeSlack()
    try:
        with serve_in_thread(fake.app()) as port:
            api_url = f"http://127.0.0.1:{port}/api/"

            async def post() -> None:
                await _desk_thread(
                    engine, AsyncWebClient(token="xoxb-cli", base_url=api_url), _handoff_of(engine, "mine"), 2
                )

            asyncio.run(post())
            MaildirMailer(cli_env / "var" / "mail", "Nimbus <support@nimbus.example>").send(
                CUSTOMER_EMAIL, "Code", "123"
            )
            for name, value in {
                "BOT_SLACK_BOT_TOKEN": "xoxb-cli",
                "BOT_SLACK_SIGNING_SECRET": "cli-signing-secret",
                "BOT_SLACK_AGENTS_CHANNEL": "#support-agents",
                "BOT_SLACK_API_URL": api_url,
            }.items():
                monkeypatch.setenv(name, value)
            assert main(["customers", "erase", CUSTOMER, "--yes"]) == 0
    finally:
        engine.dispose()
    out = capsys.readouterr().out
    for line in ("slack_messages: 2", "slack_threads: 1", "mails: 1", "conversations: 2", "tracker_events: 2"):
        assert line in out, out
    assert "agents' own replies" in out  # a bot token cannot delete them: the operator is told
    assert len(fake.called("chat.delete")) == 2 and len(fake.called("chat.update")) == 1
    assert [c.token for c in fake.calls if c.method.startswith("chat.")] == ["xoxb-cli"] * 6
    assert list((cli_env / "var" / "mail").glob("*.eml")) == []


def test_cli_erase_will_not_leave_slack_copies_behind(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = create_db_engine(f"sqlite:///{cli_env / 'cli.db'}")
    try:
        with session_factory(engine).begin() as session:
            session.add(
                SlackDeskPost(handoff_id=_handoff_of(engine, "mine"), channel="C0AGENTS", ts="1.2", kind="root")
            )
    finally:
        engine.dispose()
    assert main(["customers", "erase", CUSTOMER, "--yes"]) == 1
    err = capsys.readouterr().err
    assert "BOT_SLACK_BOT_TOKEN" in err and "nothing was erased" in err
    assert _tracker_senders(cli_env / "tracker.db") == {"mine-conv-1": 2}
