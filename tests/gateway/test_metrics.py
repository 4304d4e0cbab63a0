"""``GET /metrics``: Prometheus metrics of the real gateway against the fake Rasa, who may read them, the dashboard."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from bot.conversations.hub import ConversationHub
from bot.conversations.service import ConversationService, CustomerMessage, TurnRecord
from bot.conversations.store import ConversationStore
from bot.db.engine import session_factory
from bot.db.migrate import upgrade
from bot.db.models import Handoff
from bot.dialogue.rasa_client import DialogueCall, DialogueUnavailable, RasaClient
from bot.gateway.app import create_app
from bot.gateway.keys import ENGINE
from bot.settings import PROJECT_ROOT, Settings, load_settings
from bot.texts import load_texts
from tests.fakes.rasa import FakeRasa
from tests.helpers import free_port, queues_settled

Gateway = tuple[TestClient, FakeRasa]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

DASHBOARDS = sorted((PROJECT_ROOT / "deploy" / "grafana").glob("*.json"))
METRICS_TOKEN = "metrics-token-for-tests"


def _samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def _scrape(client: TestClient, headers: dict[str, str] | None = None) -> Samples:
    response = await client.get("/metrics", headers=headers or {})
    assert response.status == 200, await response.text()
    assert response.content_type == "text/plain"
    return _samples(await response.text())


@asynccontextmanager
async def _gateway(settings: Settings) -> AsyncIterator[TestClient]:
    upgrade(settings.database_url)
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def _say(client: TestClient, auth: dict, conversation_id: str, text: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/messages", json={"conversation_id": conversation_id, "text": text}, headers=auth
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def test_turns_are_counted_by_channel_and_outcome_with_their_latencies(gateway: Gateway, auth: dict) -> None:
    client, fake = gateway
    before = await _scrape(client)
    assert _value(before, "bot_turns_total", channel="direct", outcome="answered") == 0  # there before any turn

    await _say(client, auth, "c-1", "hi")
    await _say(client, auth, "c-1", "two")
    fake.fail_with = 500
    assert (await _say(client, auth, "c-2", "hello"))["replies"]  # the polite "try again"
    fake.fail_with = None
    await queues_settled(client.server.app)
    after = await _scrape(client)

    assert _value(after, "bot_turns_total", channel="direct", outcome="answered") == 2
    assert _value(after, "bot_turns_total", channel="direct", outcome="dialogue_unavailable") == 1
    assert _value(after, "bot_conversations_started_total", channel="direct") == 2  # c-1 once, c-2 once
    assert _value(after, "bot_turn_duration_seconds_count", channel="direct", outcome="answered") == 2
    assert _value(after, "bot_turn_duration_seconds_sum", channel="direct", outcome="answered") > 0
    assert _value(after, "bot_turn_duration_seconds_bucket", channel="direct", outcome="answered", le="+Inf") == 2
    assert _value(after, "bot_turn_dialogue_duration_seconds_count", channel="direct") == 3
    assert _value(after, "bot_rasa_request_duration_seconds_count", call="message") == 3
    assert _value(after, "bot_rasa_request_duration_seconds_sum", call="message") > 0
    assert _value(after, "bot_dialogue_errors_total", call="message", error="http_error") == 1
    # The queues, read at scrape time, keep the series names of the hand-written endpoint before them.
    assert _value(after, "bot_inbox_events", state="done") == 3
    assert _value(after, "bot_inbox_events", state="pending") == 0
    assert _value(after, "bot_dead_letters", queue="inbox") == 0
    assert _value(after, "bot_dead_letters", queue="outbox") == 0
    assert _value(after, "bot_handoffs", status="open") == 0
    assert _value(after, "bot_database_up") == 1
    assert _value(after, "bot_websocket_connections") == 0
    assert _value(after, "process_resident_memory_bytes") > 0


async def test_a_message_during_a_handoff_is_counted_as_relayed_not_as_a_dialogue_turn(
    gateway: Gateway, auth: dict
) -> None:
    client, fake = gateway
    await _say(client, auth, "c-held", "hi")
    with session_factory(client.server.app[ENGINE]).begin() as session:
        session.add(Handoff(conversation_id="c-held", reason="asked_for_human", packet={}))
    assert (await _say(client, auth, "c-held", "are you there?"))["replies"] == []
    samples = await _scrape(client)

    assert _value(samples, "bot_turns_total", channel="direct", outcome="relayed_to_agent") == 1
    assert _value(samples, "bot_turns_total", channel="direct", outcome="answered") == 1
    assert _value(samples, "bot_turn_dialogue_duration_seconds_count", channel="direct") == 1  # Rasa asked once
    assert _value(samples, "bot_conversations_started_total", channel="direct") == 1
    assert _value(samples, "bot_handoffs", status="open") == 1
    assert _value(samples, "bot_handoffs", status="claimed") == 0
    assert len(fake.received) == 1


async def test_websocket_connections_and_refusals_are_counted(fake_rasa: tuple[FakeRasa, Settings]) -> None:
    _, settings = fake_rasa
    tuned = settings.with_overrides(limits={"ws_max_per_client": 1, "api_rate_per_client": 0.5})
    async with _gateway(tuned) as client:
        ws = await client.ws_connect("/ws")
        await ws.send_json({"type": "hello"})
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
        assert _value(await _scrape(client), "bot_websocket_connections") == 1

        refused = await client.ws_connect("/ws")  # one connection per client
        assert (await refused.receive_json(timeout=5))["code"] == "too_many_connections"
        await refused.close()
        for n in range(25):  # 20 messages per 10 s per socket
            await ws.send_json({"type": "message", "text": f"m{n}", "client_id": f"m{n}"})
        await _frames_until_rate_limited(ws)

        auth = {"Authorization": "Bearer api-token-for-tests"}
        url = "/api/v1/conversations/c-1/messages"
        statuses = [(await client.get(url, headers=auth)).status for _ in range(2)]
        assert statuses[0] != 429 and statuses[1] == 429  # a burst of one request

        samples = await _scrape(client)
        assert _value(samples, "bot_rate_limit_refusals_total", channel="web", limit="connections") == 1
        assert _value(samples, "bot_rate_limit_refusals_total", channel="web", limit="messages") >= 1
        assert _value(samples, "bot_rate_limit_refusals_total", channel="direct", limit="requests") == 1
        await ws.close()
        await queues_settled(client.server.app)
        for _ in range(50):  # the server side ends its socket just after the client's close
            if _value(await _scrape(client), "bot_websocket_connections") == 0:
                break
            await asyncio.sleep(0.1)
        assert _value(await _scrape(client), "bot_websocket_connections") == 0
        assert _value(await _scrape(client), "bot_turns_total", channel="web", outcome="answered") >= 20


async def _frames_until_rate_limited(ws: aiohttp.ClientWebSocketResponse) -> None:
    for _ in range(200):
        frame = await ws.receive_json(timeout=5)
        if frame.get("type") == "error" and frame.get("code") == "rate_limited":
            return
    raise AssertionError("no rate_limited frame")


async def test_with_a_token_metrics_need_it(fake_rasa: tuple[FakeRasa, Settings]) -> None:
    _, settings = fake_rasa
    async with _gateway(settings.with_overrides(metrics={"token": METRICS_TOKEN})) as client:
        assert (await client.get("/metrics")).status == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status == 401
        assert (await wrong.json())["error"]["code"] == "unauthorized"
        assert (await client.get("/metrics", headers={"Authorization": METRICS_TOKEN})).status == 401  # no scheme
        samples = await _scrape(client, {"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert ("bot_dead_letters", frozenset({("queue", "inbox")})) in samples


async def test_in_production_without_a_token_metrics_are_closed(fake_rasa: tuple[FakeRasa, Settings]) -> None:
    _, settings = fake_rasa
    async with _gateway(settings.with_overrides(metrics={"open_without_token": False})) as client:
        closed = await client.get("/metrics")
        assert closed.status == 403
        assert (await closed.json())["error"]["code"] == "metrics_closed"
        assert (await client.get("/metrics", headers={"Authorization": "Bearer anything"})).status == 403


def test_metrics_settings_follow_the_environment(tmp_path: Path) -> None:
    names = (
        "BOT_API_TOKEN",
        "BOT_RASA_TOKEN",
        "BOT_IDENTITY_SECRET",
        "BOT_RASA_CHANNEL_SECRET",
        "BOT_ACTION_TOKEN",
        "BOT_TURN_SECRET",
    )
    production = {"BOT_VAR_DIR": str(tmp_path), "BOT_ENV": "production", **{name: f"{name}-v" for name in names}}
    assert not load_settings(production).metrics.open_without_token
    with_token = load_settings({**production, "BOT_METRICS_TOKEN": "m"})
    assert with_token.metrics.token == "m"
    assert load_settings(with_token.child_environment()).metrics == with_token.metrics
    development = load_settings({"BOT_VAR_DIR": str(tmp_path)})
    assert development.metrics.open_without_token and not development.metrics.token


async def test_two_apps_in_one_process_count_apart(
    fake_rasa: tuple[FakeRasa, Settings], auth: dict, tmp_path: Path
) -> None:
    _, settings = fake_rasa
    elsewhere = settings.with_overrides(database_url=f"sqlite:///{tmp_path / 'second.db'}")  # its own queues
    async with _gateway(settings) as first, _gateway(elsewhere) as second:
        await _say(first, auth, "c-apart", "hi")
        assert _value(await _scrape(first), "bot_turns_total", channel="direct", outcome="answered") == 1
        assert _value(await _scrape(second), "bot_turns_total", channel="direct", outcome="answered") == 0


async def test_rasa_requests_are_timed_with_how_they_failed(fake_rasa: tuple[FakeRasa, Settings]) -> None:
    fake, settings = fake_rasa
    calls: list[DialogueCall] = []
    async with aiohttp.ClientSession() as session:

        def client(base_url: str, timeout_s: float = 5.0) -> RasaClient:
            return RasaClient(
                session=session,
                base_url=base_url,
                token=settings.dialogue.token,
                channel_secret=settings.dialogue.channel_secret,
                timeout_s=timeout_s,
                on_call=calls.append,
            )

        rasa = client(settings.dialogue.rasa_url)
        assert await rasa.send("c-1", "hi", {})
        assert await rasa.replies_of_turn("c-1", "t-unknown") is None
        fake.delay_s = 1.0
        with pytest.raises(DialogueUnavailable):
            await client(settings.dialogue.rasa_url, timeout_s=0.2).send("c-1", "slow", {})
        fake.delay_s = 0.0
        with pytest.raises(DialogueUnavailable):
            await client(f"http://127.0.0.1:{free_port()}").send("c-1", "nobody there", {})
    assert [(c.call, c.error) for c in calls] == [
        ("message", None),
        ("tracker", None),
        ("message", "timeout"),
        ("message", "unreachable"),
    ]
    assert all(c.seconds >= 0 for c in calls) and calls[2].seconds >= 0.2


class _Recording:
    def __init__(self) -> None:
        self.records: list[TurnRecord] = []

    def turn_done(self, record: TurnRecord) -> None:
        self.records.append(record)


class _Broken:
    def turn_done(self, record: TurnRecord) -> None:
        raise RuntimeError("observer bug")


@pytest.fixture
async def rasa_client(fake_rasa: tuple[FakeRasa, Settings]) -> AsyncIterator[RasaClient]:
    _, settings = fake_rasa
    async with aiohttp.ClientSession() as session:
        yield RasaClient(
            session=session,
            base_url=settings.dialogue.rasa_url,
            token=settings.dialogue.token,
            channel_secret=settings.dialogue.channel_secret,
            timeout_s=5,
        )


async def test_observers_hear_each_turn_once_and_a_failing_one_does_not_break_it(
    migrated_engine: Engine, rasa_client: RasaClient, fake_rasa: tuple[FakeRasa, Settings]
) -> None:
    fake, _ = fake_rasa
    recording = _Recording()
    service = ConversationService(
        store=ConversationStore(migrated_engine),
        hub=ConversationHub(),
        dialogue=rasa_client,
        texts=load_texts(PROJECT_ROOT / "data" / "texts.yml"),
        observers=(_Broken(), recording),
    )
    first = await service.handle(CustomerMessage("c-obs", "web", "hi", client_id="t1"))
    assert [r.text for r in first.replies] == ["Hi! How can I help?"]
    await service.handle(CustomerMessage("c-obs", "web", "hi", client_id="t1"))  # a re-sent copy: not a turn
    fake.fail_with = 502
    await service.handle(CustomerMessage("c-obs", "web", "again", client_id="t2"))

    assert [(r.conversation_id, r.channel, r.customer_id, r.outcome, r.first_turn) for r in recording.records] == [
        ("c-obs", "web", None, "answered", True),
        ("c-obs", "web", None, "dialogue_unavailable", False),
    ]
    for record in recording.records:
        assert record.rasa_latency_s is not None and 0 <= record.rasa_latency_s <= record.latency_s


def _queried_metrics(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, metric name) of every PromQL expression of the dashboard: its panels and its variables."""
    queries = [
        (panel.get("title", "?"), target.get("expr", ""))
        for panel in dashboard.get("panels", [])
        for target in panel.get("targets", [])
    ]
    queries += [(f"${v['name']}", v.get("definition", "")) for v in dashboard.get("templating", {}).get("list", [])]
    for where, expression in queries:
        expression = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expression)  # label matchers and ranges
        for name in re.findall(r"\b(?:bot|process|python)_[a-z_]+\b", expression):
            yield where, name


#: A sample's suffix, and the types of metric that have it.
_SUFFIXES = (("_bucket", {"histogram"}), ("_count", {"histogram", "summary"}), ("_sum", {"histogram", "summary"}))


def _exposed(name: str, families: dict[str, str]) -> bool:
    """Whether ``name`` is a series of one of ``families`` (name -> type), even before its first sample."""
    if families.get(name) in ("gauge", "untyped", "unknown"):
        return True
    if name.endswith("_total"):
        return families.get(name.removesuffix("_total")) == "counter"
    return any(
        name.endswith(suffix) and families.get(name.removesuffix(suffix)) in types for suffix, types in _SUFFIXES
    )


async def test_the_grafana_dashboard_queries_only_metrics_the_gateway_exposes(gateway: Gateway, auth: dict) -> None:
    client, _ = gateway
    await _say(client, auth, "c-dash", "hi")
    response = await client.get("/metrics")
    families = {family.name: family.type for family in text_string_to_metric_families(await response.text())}
    assert DASHBOARDS, "no dashboard under deploy/grafana/"
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        queried = list(_queried_metrics(dashboard))
        assert len({name for _, name in queried}) >= 10, f"{path.name} queries little: {queried}"
        missing = sorted({(where, name) for where, name in queried if not _exposed(name, families)})
        assert not missing, f"{path.name} queries metrics the gateway does not expose: {missing}"
