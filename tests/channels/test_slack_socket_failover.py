"""Slack in Socket Mode with two gateway replicas, one of them SIGKILLed (issue 14, point 11).

Two ``python -m bot gateway`` processes share one PostgreSQL database and each holds a Socket
Mode connection to the fake Slack (slack-bolt's real client on both). Slack's side is played
as Slack documents it: an envelope goes to one connection, and one that is not acknowledged
in time is sent again, on another connection, with ``retry_attempt``.

* Killed mid-turn: replica A acknowledged the envelope (so the message is stored) and is
  waiting for Rasa when it is SIGKILLed. Replica B takes the turn over when A's lease runs
  out, finds Rasa's answer in the tracker, and the customer gets it once; Rasa is asked once.
* Killed before acknowledging: replica A is frozen (SIGSTOP) when the envelope reaches it,
  then SIGKILLed. Slack's redelivery reaches B, which answers once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.rasa import FakeRasa
from tests.fakes.slack import FakeSlack, dm_event
from tests.helpers import free_port
from tests.stack import Gateway

T = TypeVar("T")

RASA_TOKEN = "rasa-token-failover"
CHANNEL_SECRET = "channel-secret-failover"
#: Short enough for a test; the lease must outlast a call to Rasa (BOT_RASA_TIMEOUT).
LEASE_S = 6
RASA_TIMEOUT_S = 4
DM = "D0CUSTDM"


@dataclass
class Fakes:
    """The fake Slack and fake Rasa, served from their own event loop thread."""

    slack: FakeSlack
    rasa: FakeRasa
    slack_url: str
    rasa_port: int
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coroutine`` on the fakes' loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


async def _serve(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return server


@contextlib.contextmanager
def fakes_in_thread() -> Iterator[Fakes]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    slack, rasa = FakeSlack(), FakeRasa(token=RASA_TOKEN, channel_secret=CHANNEL_SECRET)
    fakes = Fakes(slack, rasa, "", 0, loop)
    servers = [fakes.run(_serve(slack.app())), fakes.run(_serve(rasa.app()))]
    assert servers[1].port is not None
    fakes.slack_url, fakes.rasa_port = str(servers[0].make_url("/api/")), servers[1].port
    try:
        yield fakes
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                fakes.run(server.close(), timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def _wait(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Replicas:
    fakes: Fakes
    database_url: str
    make: Callable[[str], Gateway]

    def start(self, name: str) -> tuple[Gateway, web.WebSocketResponse]:
        """Start replica ``name``; return it and its Socket Mode connection as the fake Slack sees it."""
        before = self.fakes.slack.connections
        gateway = self.make(name)
        gateway.start()
        _wait(f"{name}'s Socket Mode connection", lambda: self.fakes.slack.connections == before + 1)
        return gateway, self.fakes.slack.sockets[-1]

    def inbox(self) -> list[sa.Row]:
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                query = "SELECT external_id, state, lease_owner FROM channel_inbox ORDER BY id"
                return list(connection.execute(sa.text(query)))
        finally:
            engine.dispose()


@pytest.fixture
def replicas(migrated_database_url: str, tmp_path: Path) -> Iterator[Replicas]:
    started: list[Gateway] = []
    with fakes_in_thread() as fakes:

        def make(name: str) -> Gateway:
            port = free_port()
            env = {
                **os.environ,
                "BOT_ENV": "test",
                "BOT_VAR_DIR": str(tmp_path / name),
                "BOT_DATABASE_URL": migrated_database_url,
                "BOT_REPLICA_ID": name,
                "BOT_GATEWAY_PORT": str(port),
                "BOT_API_TOKEN": "api-token-failover",
                "BOT_IDENTITY_SECRET": "identity-secret-failover",
                "BOT_RASA_PORT": str(fakes.rasa_port),
                "BOT_RASA_TOKEN": RASA_TOKEN,
                "BOT_RASA_CHANNEL_SECRET": CHANNEL_SECRET,
                "BOT_ACTION_TOKEN": "action-token-failover",
                "BOT_TURN_SECRET": "turn-secret-failover-at-least-32-bytes",
                "BOT_RASA_TIMEOUT": str(RASA_TIMEOUT_S),
                "BOT_LEASE": str(LEASE_S),
                "BOT_SLACK_BOT_TOKEN": "xoxb-failover",
                "BOT_SLACK_APP_TOKEN": "xapp-failover",
                "BOT_SLACK_SIGNING_SECRET": "",
                "BOT_SLACK_AGENTS_CHANNEL": "#support-agents",
                "BOT_SLACK_API_URL": fakes.slack_url,
                "BOT_SLACK_CUSTOMERS": "1",
                "BOT_TELEGRAM_BOT_TOKEN": "",
            }
            gateway = Gateway(env, f"http://127.0.0.1:{port}", tmp_path / f"{name}.out")
            started.append(gateway)
            return gateway

        try:
            yield Replicas(fakes, migrated_database_url, make)
        finally:
            for gateway in started:
                if gateway.process is not None and gateway.process.poll() is None:
                    os.killpg(gateway.process.pid, signal.SIGCONT)  # a frozen replica must hear SIGTERM
                gateway.stop(kill=False)
    assert fakes.slack.unknown == [], fakes.slack.unknown


def _envelope(text: str, event_id: str, ts: str) -> dict[str, Any]:
    return {
        "envelope_id": f"env-{event_id}",
        "type": "events_api",
        "accepts_response_payload": False,
        "payload": json.loads(dm_event("U0FAIL", text, event_id=event_id, ts=ts)),
    }


def _replies(fakes: Fakes) -> list[str]:
    return [str(posted.get("text")) for posted in fakes.slack.posted(DM)]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("rasa_finished", [True, False], ids=["rasa-had-answered", "rasa-dropped-it"])
def test_a_replica_killed_mid_turn_leaves_the_turn_to_the_other(replicas: Replicas, rasa_finished: bool) -> None:
    fakes = replicas.fakes
    a, socket_a = replicas.start("replica-a")
    b, _ = replicas.start("replica-b")
    fakes.rasa.delay_s = 3  # replica A is still waiting for Rasa when it dies
    fakes.rasa.finish_when_client_leaves = rasa_finished

    envelope = _envelope("where is my parcel", "EvFail01", "1700000700.000100")
    fakes.run(socket_a.send_json(envelope))
    fakes.run(fakes.slack.wait_for_ack(envelope["envelope_id"]))  # acknowledged: the message is stored
    _wait("replica A to ask Rasa", lambda: len(fakes.rasa.received) == 1)
    killed_at = time.monotonic()
    a.stop(kill=True)

    _wait("the reply", lambda: len(_replies(fakes)) >= 1, timeout=LEASE_S + 20)
    taken_over_after = time.monotonic() - killed_at
    time.sleep(1.5)  # nothing more comes
    assert _replies(fakes) == ["you said: where is my parcel"]
    # Rasa processed the message once: B found its answer in the tracker, or (dropped) asked again.
    assert len(fakes.rasa.received) == (1 if rasa_finished else 2)
    (events,) = fakes.rasa.events.values()
    assert [event["event"] for event in events] == ["user", "bot"]
    assert [(row.external_id, row.state) for row in replicas.inbox()] == [("EvFail01", "done")]
    assert taken_over_after < LEASE_S + 5, taken_over_after
    assert b.process is not None and b.process.poll() is None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_envelope_a_dead_replica_never_acknowledged_is_answered_by_the_other(replicas: Replicas) -> None:
    fakes = replicas.fakes
    a, socket_a = replicas.start("replica-a")
    replicas.start("replica-b")
    _wait("both connections", lambda: len(fakes.slack.sockets) == 2)
    socket_b = next(socket for socket in fakes.slack.sockets if socket is not socket_a)

    assert a.process is not None
    os.killpg(a.process.pid, signal.SIGSTOP)  # frozen: the envelope reaches it, nothing answers
    envelope = _envelope("is the warranty two years", "EvFail02", "1700000800.000100")
    fakes.run(socket_a.send_json(envelope))
    time.sleep(3)  # Slack waits 3 s for the acknowledgement
    assert fakes.slack.ack_for(envelope["envelope_id"]) is None
    a.stop(kill=True)
    _wait("the dead connection to close", lambda: socket_a not in fakes.slack.sockets)

    # Slack sends an unacknowledged envelope again, on a live connection.
    fakes.run(socket_b.send_json({**envelope, "retry_attempt": 1, "retry_reason": "timeout"}))
    fakes.run(fakes.slack.wait_for_ack(envelope["envelope_id"]))
    _wait("the reply", lambda: len(_replies(fakes)) >= 1)
    time.sleep(1.5)
    assert _replies(fakes) == ["you said: is the warranty two years"]
    assert len(fakes.rasa.received) == 1
    assert [(row.external_id, row.state) for row in replicas.inbox()] == [("EvFail02", "done")]
