"""The local cluster (``python -m bot cluster``, ``make run-cluster``): two of each process behind HAProxy,
on this run's PostgreSQL databases, Redis prefix and RabbitMQ virtual host.

Any replica serves any conversation's next message: a troubleshooting guide goes on at the right
step whichever gateway (and so whichever Rasa server) takes the message; a widget connected to
gateway 1 receives an agent's reply sent through gateway 2; a handoff claimed on one is claimed
on both; the front (HAProxy) serves customers and agents as one gateway would. The chaos test
kills replicas and stops the shared services under load (docs/scaling.md, "Chaos") and writes
its counts to tests/artifacts/chaos.json.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bot.settings import PROJECT_ROOT
from bot.training import ensure_model
from tests.services import require
from tests.shared_services import RedisForRun
from tests.stack import RunningStack, buttons, drop_cluster_databases, joined, start_cluster

pytestmark = pytest.mark.e2e


class Cluster:
    """The running cluster: its front and each gateway replica's own address."""

    def __init__(self, stack: RunningStack, database_url: str) -> None:
        self.stack = stack
        self.database_url = database_url
        front = int(stack.gateway_url.rsplit(":", 1)[1])
        self.front = stack.gateway_url
        self.gateways = [f"http://127.0.0.1:{front + i}" for i in (1, 2)]

    async def say(self, session: aiohttp.ClientSession, url: str, conversation: str, message: str) -> dict[str, Any]:
        async with session.post(
            f"{url}/api/v1/messages",
            json={"conversation_id": conversation, "text": message},
            headers={"Authorization": f"Bearer {self.stack.api_token}"},
        ) as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres_admin_url: str, redis_service: RedisForRun, rabbitmq_url: str
) -> Iterator[Cluster]:
    require(_haproxy(), "HAProxy not installed (make haproxy)")
    ensure_model(PROJECT_ROOT, PROJECT_ROOT / "models")
    # Shorter leases than the defaults, so the chaos test's takeovers happen within seconds.
    chaos = {"BOT_RASA_TIMEOUT": "15", "BOT_LEASE": "20", "BOT_LOCK_LIFETIME": "40"}
    running, name = start_cluster(
        tmp_path_factory.mktemp("cluster") / "var",
        PROJECT_ROOT / "models",
        postgres_admin_url=postgres_admin_url,
        redis_url=redis_service.url,
        rabbitmq_url=rabbitmq_url,
        extra_env=chaos,
    )
    try:
        yield Cluster(running, running.database_url)
    finally:
        code = running.stop()
        drop_cluster_databases(postgres_admin_url, name)
        assert code == 0, f"cluster exit {code}:\n{running.output()}"


def _haproxy() -> bool:
    from bot.cluster import HAPROXY

    return __import__("os").path.exists(HAPROXY)


def test_the_cluster_reports_every_replica_ready(cluster: Cluster) -> None:
    out = cluster.stack.output()
    for process in ("actions-1", "actions-2", "rasa-1", "rasa-2", "gateway-1", "gateway-2", "haproxy"):
        assert re.search(rf"^\s+{process}\s+ready after", out, re.MULTILINE), out
    assert (
        "PostgreSQL databases e2e_" in out
        and f"Web chat:        {cluster.front.replace('127.0.0.1', 'localhost')}/" in out
    )


async def test_a_guide_goes_on_at_the_right_step_whichever_replica_serves_the_message(cluster: Cluster) -> None:
    one, two = cluster.gateways
    async with aiohttp.ClientSession() as session:
        first = await cluster.say(session, one, "cl-guide", "my wifi keeps dropping")
        assert "Which Nimbus device gives you Wi-Fi?" in joined(first), first
        second = await cluster.say(session, two, "cl-guide", "A mesh kit")
        assert "Look at the LED on each mesh unit" in joined(second), second
        third = await cluster.say(session, cluster.front, "cl-guide", "One is orange")
        assert "Look at the LED" not in joined(third) and buttons(third), third  # the next step, not a restart


async def test_an_agent_reply_through_gateway_2_reaches_the_widget_on_gateway_1(cluster: Cluster) -> None:
    one, two = cluster.gateways
    agent = {"Authorization": f"Bearer {cluster.stack.agent_token}"}
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{one.replace('http', 'ws')}/ws")
        await ws.send_json({"type": "hello", "conversation_id": None, "after": None})
        welcome = await ws.receive_json(timeout=10)
        conversation = welcome["conversation_id"]
        await ws.send_json({"type": "message", "text": "I want to talk to a person", "client_id": "m1"})
        handoff_id = None
        for _ in range(30):
            async with session.get(f"{two}/api/v1/handoffs?status=open", headers=agent) as response:
                listed = await response.json()
            found = [h["id"] for h in listed["handoffs"] if h["conversation_id"] == conversation]
            if found:
                handoff_id = found[0]
                break
            await asyncio.sleep(0.5)
        assert handoff_id is not None, "no handoff opened"
        async with session.post(f"{two}/api/v1/handoffs/{handoff_id}/claim", json={}, headers=agent) as response:
            assert response.status == 200, await response.text()
        async with session.get(f"{one}/api/v1/handoffs/{handoff_id}", headers=agent) as response:
            assert (await response.json())["status"] == "claimed"  # claimed on 2, claimed on 1
        async with session.post(
            f"{two}/api/v1/handoffs/{handoff_id}/messages",
            json={"text": "Lena here, reading your case."},
            headers=agent,
        ) as response:
            assert response.status == 201, await response.text()
        texts = []
        for _ in range(40):
            frame = await ws.receive_json(timeout=15)
            if frame.get("type") == "message" and frame.get("sender") == "agent":
                texts.append(frame["text"])
                break
        await ws.close()
    assert texts == ["Lena here, reading your case."]


# -- chaos: replicas killed under load -------------------------------------------------------

LOAD_CUSTOMERS = 6
#: How the bot's "saved, try again in a minute" reply starts (data/texts.yml): counted, not a failure.
APOLOGY = "Sorry, I'm having trouble answering right now."
LOAD_MESSAGES = ("hi", "how much is the velo router?", "is it in stock in berlin?", "what about hamburg?", "thanks")


def _pid_of(cluster: Cluster, victim: str) -> int:
    """The pid of the cluster's ``gateway-<i>`` (its BOT_REPLICA_ID) or ``rasa-<i>`` (its port)."""
    from pathlib import Path

    kind, index = victim.rsplit("-", 1)
    rasa_port = int(cluster.stack.rasa_url.rsplit(":", 1)[1]) + int(index)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if f"BOT_VAR_DIR={cluster.stack.var_dir}".encode() not in environ:
            continue
        if kind == "gateway" and b"bot\0gateway" in cmdline and f"BOT_REPLICA_ID={victim}".encode() in environ:
            return int(entry.name)
        if kind == "rasa" and b"rasa\0run" in cmdline and f"--port\0{rasa_port}\0".encode() in cmdline:
            return int(entry.name)
    raise AssertionError(f"no process {victim}")


async def _customer(cluster: Cluster, session: aiohttp.ClientSession, conversation: str, log: dict[str, int]) -> None:
    """Send each message until it is taken (same key on every retry), then wait for its replies."""
    headers = {"Authorization": f"Bearer {cluster.stack.api_token}"}
    for n, message in enumerate(LOAD_MESSAGES):
        body = {"conversation_id": conversation, "text": message, "client_id": f"{conversation}-{n}"}
        deadline = asyncio.get_running_loop().time() + 120
        while True:
            try:
                async with session.post(f"{cluster.front}/api/v1/messages", json=body, headers=headers) as response:
                    if response.status in (200, 202):
                        answer = await response.json()
                        if response.status == 202 or not answer["replies"]:
                            log["answered_late"] += 1
                            await _wait_for_reply(cluster, session, conversation, n, headers)
                        break
                    log[f"http_{response.status}"] += 1
            except (aiohttp.ClientError, asyncio.TimeoutError):
                log["connection_errors"] += 1
            assert asyncio.get_running_loop().time() < deadline, f"{conversation} message {n} never taken"
            await asyncio.sleep(0.5)
        log["sent"] += 1


async def _say_until_taken(
    cluster: Cluster, session: aiohttp.ClientSession, url: str, conversation: str, message: str, attempt: int = 0
) -> dict[str, Any]:
    """One message (one idempotency key on every retry) until a replica answers it; the answer."""
    key = hashlib.sha256(f"{conversation}:{message}:{attempt}".encode()).hexdigest()[:32]
    body = {"conversation_id": conversation, "text": message, "client_id": key}
    headers = {"Authorization": f"Bearer {cluster.stack.api_token}"}
    statuses: list[int] = []
    for _ in range(120):
        try:
            async with session.post(f"{url}/api/v1/messages", json=body, headers=headers) as response:
                statuses.append(response.status)
                if response.status == 200:
                    answer = dict(await response.json())
                    if answer["replies"]:
                        return answer
        except (aiohttp.ClientError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(1)
    raise AssertionError(f"{conversation}: {message!r} never answered (HTTP {statuses[-5:]})")


async def _wait_for_reply(
    cluster: Cluster, session: aiohttp.ClientSession, conversation: str, n: int, headers: dict[str, str]
) -> None:
    for _ in range(240):
        try:
            async with session.get(
                f"{cluster.front}/api/v1/conversations/{conversation}/messages", headers=headers
            ) as r:
                if r.status == 200:
                    messages = (await r.json())["messages"]
                    customer = [m for m in messages if m["sender"] == "customer"]
                    if len(customer) > n and any(
                        m["sender"] == "bot" and m["cursor"] > customer[n]["cursor"] for m in messages
                    ):
                        return
        except (aiohttp.ClientError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(0.5)
    raise AssertionError(f"{conversation}: no reply to message {n}")


def _audit(database_url: str, conversations: list[str]) -> dict[str, int]:
    """Lost, duplicated and out-of-order messages, read from the cluster's database."""
    from bot.db.engine import create_db_engine

    counts = {"conversations": len(conversations), "lost": 0, "duplicated_customer": 0, "duplicated_replies": 0,
              "out_of_order": 0, "unanswered": 0, "apologies": 0}  # fmt: skip
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            for conversation in conversations:
                rows = connection.execute(
                    text("SELECT sender, text FROM messages WHERE conversation_id = :c ORDER BY id"),
                    {"c": conversation},
                ).all()
                said = [r.text for r in rows if r.sender == "customer"]
                counts["lost"] += len([m for m in LOAD_MESSAGES if m not in said])
                counts["duplicated_customer"] += len(said) - len(set(said))
                counts["out_of_order"] += int(
                    [m for m in said if m in LOAD_MESSAGES] != list(LOAD_MESSAGES)[: len(said)]
                )
                block: list[str] = []
                for row in [*rows, None]:
                    if row is None or row.sender == "customer":
                        if block and len(block) != len(set(block)):
                            counts["duplicated_replies"] += 1
                        if row is not None and rows.index(row) > 0 and not block:
                            counts["unanswered"] += 1
                        block = []
                    elif row.sender == "bot":
                        block.append(row.text)
                        counts["apologies"] += int(row.text.startswith(APOLOGY))
    finally:
        engine.dispose()
    return counts


def _pause_redis(url: str, seconds: float) -> None:
    """Redis answers no client for ``seconds`` (CLIENT PAUSE ALL), as a stopped Redis would."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")
        time.sleep(seconds)
    finally:
        client.close()


def _block_postgres(database_url: str, seconds: float) -> None:
    """Hold the tables every turn writes, exclusively, for ``seconds``."""
    engine = create_engine(make_url(database_url), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text("LOCK TABLE messages, channel_inbox, channel_outbox IN ACCESS EXCLUSIVE MODE"))
            time.sleep(seconds)
    finally:
        engine.dispose()


def _stop_rabbitmq(seconds: float) -> None:
    from tests.shared_services import rabbitmqctl

    assert rabbitmqctl("stop_app"), "rabbitmqctl stop_app failed"
    try:
        time.sleep(seconds)
    finally:
        assert rabbitmqctl("start_app"), "rabbitmqctl start_app failed"


async def test_chaos_replicas_killed_and_services_stopped_under_load_lose_and_repeat_nothing(
    cluster: Cluster, redis_service: RedisForRun
) -> None:
    import json
    import os
    import signal
    from collections import Counter

    from tests.gateway.test_console_browser import ARTIFACTS

    def kill(victim: str) -> Any:
        return lambda: os.kill(_pid_of(cluster, victim), signal.SIGKILL)

    rounds: list[tuple[str, Any]] = [
        ("sigkill_gateway-1", kill("gateway-1")),
        ("sigkill_rasa-1", kill("rasa-1")),
        ("redis_paused_10s", lambda: _pause_redis(redis_service.url, 10)),
        ("rabbitmq_stopped_10s", lambda: _stop_rabbitmq(10)),
        ("postgres_blocked_10s", lambda: _block_postgres(cluster.database_url, 10)),
    ]
    results: dict[str, Any] = {}
    for label, disrupt in rounds:
        log: Counter[str] = Counter()
        conversations = [f"chaos-{label}-{i}-{uuid.uuid4().hex[:6]}" for i in range(LOAD_CUSTOMERS)]
        started = time.monotonic()
        guide = f"chaos-guide-{label}-{uuid.uuid4().hex[:6]}"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=45)) as session:
            opened = await _say_until_taken(cluster, session, cluster.gateways[1], guide, "my wifi keeps dropping")
            assert "Which Nimbus device gives you Wi-Fi?" in joined(opened), opened
            load = asyncio.gather(*(_customer(cluster, session, c, log) for c in conversations))
            await asyncio.sleep(2)  # mid-load
            await asyncio.to_thread(disrupt)
            await asyncio.wait_for(load, 400)
            # The guide goes on at its step after the disruption, whichever replica takes the answer.
            # A customer told "try again in a minute" (the dialogue was unreachable) sends it again.
            step: list[str] = []
            for attempt in range(4):
                answer = await _say_until_taken(cluster, session, cluster.front, guide, "A mesh kit", attempt)
                step = [r["text"] for r in answer["replies"]]
                if not any(text.startswith(APOLOGY) for text in step):
                    break
                log["guide_retried_after_apology"] += 1
                await asyncio.sleep(5)
        audit = _audit(cluster.database_url, conversations)
        audit["guide_at_the_right_step"] = int(any("Look at the LED on each mesh unit" in t for t in step))
        results[label] = {**audit, **log, "seconds": round(time.monotonic() - started, 1)}
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "chaos.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        assert audit["lost"] == audit["duplicated_customer"] == audit["duplicated_replies"] == 0, (label, audit)
        assert audit["out_of_order"] == audit["unanswered"] == 0, (label, audit)
        assert audit["guide_at_the_right_step"] == 1, (label, step)
        assert log["sent"] == LOAD_CUSTOMERS * len(LOAD_MESSAGES), (label, log)
        if label.startswith("sigkill_"):
            victim = label.removeprefix("sigkill_")
            for _ in range(120):  # the supervisor starts it again, as an orchestrator would
                if re.search(rf"{victim} exited with code -9 after .* starting it again", cluster.stack.output()):
                    break
                await asyncio.sleep(1)
            else:
                raise AssertionError(cluster.stack.output())
            await _all_ready(cluster)


async def _all_ready(cluster: Cluster) -> None:
    """Both gateways answer /readyz again (a restarted one, and the Rasa servers behind it)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(180):
            ready = 0
            for url in cluster.gateways:
                try:
                    async with session.get(f"{url}/readyz") as response:
                        ready += response.status == 200
                except aiohttp.ClientError:
                    pass
            if ready == len(cluster.gateways):
                return
            await asyncio.sleep(1)
    raise AssertionError("a replica did not come back")
