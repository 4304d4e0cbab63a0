"""The local cluster (``python -m bot cluster``, ``make run-cluster``): two of each process behind HAProxy,
on this run's PostgreSQL databases, Redis prefix and RabbitMQ virtual host.

Any replica serves any conversation's next message: a troubleshooting guide goes on at the right
step whichever gateway (and so whichever Rasa server) takes the message; a widget connected to
gateway 1 receives an agent's reply sent through gateway 2; a handoff claimed on one is claimed
on both; the front (HAProxy) serves customers and agents as one gateway would.
"""

from __future__ import annotations

import asyncio
import re
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
from tests.stack import RunningStack, buttons, joined, start_stack

pytestmark = pytest.mark.e2e


class Cluster:
    """The running cluster: its front and each gateway replica's own address."""

    def __init__(self, stack: RunningStack) -> None:
        self.stack = stack
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
    require(PROJECT_ROOT.joinpath("Makefile").exists() and _haproxy(), "HAProxy not installed (make haproxy)")
    ensure_model(PROJECT_ROOT, PROJECT_ROOT / "models")
    name = f"e2e_{uuid.uuid4().hex[:10]}"
    command = (
        "cluster",
        "--name",
        name,
        "--postgres",
        postgres_admin_url,
        "--redis",
        redis_service.url,
        "--rabbitmq",
        rabbitmq_url,
    )
    running = start_stack(tmp_path_factory.mktemp("cluster") / "var", PROJECT_ROOT / "models", command=command)
    try:
        yield Cluster(running)
    finally:
        code = running.stop()
        admin = create_engine(make_url(postgres_admin_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with admin.connect() as connection:
                for database in (name, f"{name}_tracker"):
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        finally:
            admin.dispose()
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
