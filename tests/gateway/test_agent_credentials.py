"""Per-agent credentials on the agent API: the token says who acts, never the request body."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from bot.db.engine import create_db_engine, session_factory
from bot.db.models import Agent, Handoff
from bot.handoff.requests import HandoffRequests
from bot.settings import Settings
from tests.fakes.rasa import FakeRasa

Gateway = tuple[TestClient, FakeRasa]
CUSTOMER = {"Authorization": "Bearer api-token-for-tests"}
#: What the test settings still put in BOT_AGENT_TOKEN: the old shared token, which must not act any more.
SHARED = "agent-token-for-tests"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issue_token(engine: Engine, agent_id: str) -> str:
    from bot.handoff.agents import AgentCredentials

    return AgentCredentials(engine).issue(agent_id)


def revoke_tokens(engine: Engine, agent_id: str) -> int:
    from bot.handoff.agents import AgentCredentials

    return AgentCredentials(engine).revoke(agent_id)


@pytest.fixture
def engine(gateway: Gateway, settings: Settings) -> Any:
    engine = create_db_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def desk(engine: Engine) -> tuple[int, dict[str, str]]:
    """Lena (AG-01) and Tomás (AG-02), each with their own token, and an open handoff on c-cred."""
    with session_factory(engine).begin() as session:
        session.add(Agent(id="AG-01", name="Lena", email="lena@example.com"))
        session.add(Agent(id="AG-02", name="Tomás", email="tomas@example.com"))
    ref, _ = HandoffRequests(engine).request("c-cred", "customer_request", {"summary": "wants a person"}, "direct")
    return ref.id, {agent: issue_token(engine, agent) for agent in ("AG-01", "AG-02")}


async def call(client: TestClient, token: str, handoff_id: int, verb: str, **body: Any) -> tuple[int, Any]:
    resp = await client.post(f"/api/v1/handoffs/{handoff_id}/{verb}", json=body, headers=bearer(token))
    return resp.status, await resp.json()


def holder(engine: Engine, handoff_id: int) -> tuple[str, str | None]:
    with session_factory(engine)() as session:
        row = session.get(Handoff, handoff_id)
        assert row is not None
        return str(row.status.value if hasattr(row.status, "value") else row.status), row.agent_id


async def test_me_says_whose_token_it_is(gateway: Gateway, desk: tuple[int, dict[str, str]]) -> None:
    client, _ = gateway
    _, tokens = desk
    for agent, name in (("AG-01", "Lena"), ("AG-02", "Tomás")):
        resp = await client.get("/api/v1/agents/me", headers=bearer(tokens[agent]))
        assert resp.status == 200
        me = await resp.json()
        assert (me["id"], me["name"], me["presence"]) == (agent, name, "offline")
    for headers in ({}, bearer("not-a-token"), CUSTOMER, bearer(SHARED)):
        resp = await client.get("/api/v1/agents/me", headers=headers)
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "unauthorized"


async def test_the_shared_agent_token_no_longer_acts_or_reads(
    gateway: Gateway, desk: tuple[int, dict[str, str]], engine: Engine
) -> None:
    client, _ = gateway
    handoff_id, _ = desk
    assert (await client.get("/api/v1/handoffs", headers=bearer(SHARED))).status == 401
    status, body = await call(client, SHARED, handoff_id, "claim", agent_id="AG-01")
    assert status == 401 and body["error"]["code"] == "unauthorized"
    assert holder(engine, handoff_id) == ("open", None)


async def test_agent_a_cannot_claim_reply_or_resolve_as_agent_b(
    gateway: Gateway, desk: tuple[int, dict[str, str]], engine: Engine
) -> None:
    client, _ = gateway
    handoff_id, tokens = desk
    lena, tomas = tokens["AG-01"], tokens["AG-02"]

    status, body = await call(client, lena, handoff_id, "claim", agent_id="AG-02")
    assert status == 403 and body["error"]["code"] == "agent_mismatch"
    assert holder(engine, handoff_id) == ("open", None)

    status, body = await call(client, tomas, handoff_id, "claim")
    assert status == 200 and body["agent_id"] == "AG-02"

    status, body = await call(client, lena, handoff_id, "messages", agent_id="AG-02", text="I am Tomás, honest")
    assert status == 403 and body["error"]["code"] == "agent_mismatch"
    for verb in ("resolve", "hand-back"):
        status, body = await call(client, lena, handoff_id, verb, agent_id="AG-02")
        assert status == 403 and body["error"]["code"] == "agent_mismatch"
    # Without naming anyone, Lena is Lena: she does not hold the handoff.
    status, body = await call(client, lena, handoff_id, "messages", text="let me in")
    assert status == 409 and body["error"]["code"] == "not_yours"
    status, body = await call(client, lena, handoff_id, "resolve")
    assert status == 409 and body["error"]["code"] == "not_yours"

    assert holder(engine, handoff_id) == ("claimed", "AG-02")
    listed = await (await client.get("/api/v1/conversations/c-cred/messages", headers=CUSTOMER)).json()
    assert listed["messages"] == []  # nothing reached the customer in Tomás's name


async def test_the_body_agent_id_is_never_trusted_only_checked(
    gateway: Gateway, desk: tuple[int, dict[str, str]], engine: Engine
) -> None:
    client, fake = gateway
    handoff_id, tokens = desk
    lena = tokens["AG-01"]
    status, body = await call(client, lena, handoff_id, "claim")  # no agent_id: the token names the agent
    assert status == 200 and body["agent_id"] == "AG-01"
    status, body = await call(client, lena, handoff_id, "messages", agent_id="AG-01", text="Hi, I'm Lena.")
    assert status == 201 and body["sender"] == "agent"  # a matching agent_id is accepted
    for wrong in ("ag-01", " AG-01", "", 1, None):
        status, body = await call(client, lena, handoff_id, "messages", agent_id=wrong, text="spoofed?")
        assert status == 403 and body["error"]["code"] == "agent_mismatch", wrong
    status, body = await call(client, lena, handoff_id, "resolve")
    assert status == 200 and body["status"] == "resolved"
    assert holder(engine, handoff_id) == ("resolved", "AG-01")
    assert fake.triggered == [("c-cred", "handoff_resolved")]


async def test_a_revoked_token_is_refused_and_a_new_one_works(
    gateway: Gateway, desk: tuple[int, dict[str, str]], engine: Engine
) -> None:
    client, _ = gateway
    handoff_id, tokens = desk
    old = tokens["AG-01"]
    assert (await client.get("/api/v1/agents/me", headers=bearer(old))).status == 200
    assert revoke_tokens(engine, "AG-01") == 1
    for request in (
        client.get("/api/v1/agents/me", headers=bearer(old)),
        client.get("/api/v1/handoffs", headers=bearer(old)),
        client.post(f"/api/v1/handoffs/{handoff_id}/claim", json={}, headers=bearer(old)),
    ):
        resp = await request
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "token_revoked"
    assert holder(engine, handoff_id) == ("open", None)
    assert (await client.get("/api/v1/agents/me", headers=bearer(tokens["AG-02"]))).status == 200  # others unaffected
    fresh = issue_token(engine, "AG-01")
    assert fresh != old
    status, body = await call(client, fresh, handoff_id, "claim")
    assert status == 200 and body["agent_id"] == "AG-01"


async def test_an_inactive_agents_token_is_refused(
    gateway: Gateway, desk: tuple[int, dict[str, str]], engine: Engine
) -> None:
    client, _ = gateway
    handoff_id, tokens = desk
    with engine.begin() as connection:
        connection.execute(update(Agent).where(Agent.id == "AG-02").values(active=False))
    resp = await client.get("/api/v1/agents/me", headers=bearer(tokens["AG-02"]))
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "agent_inactive"
    status, body = await call(client, tokens["AG-02"], handoff_id, "claim")
    assert status == 403 and body["error"]["code"] == "agent_inactive"
    assert holder(engine, handoff_id) == ("open", None)


async def test_tokens_are_stored_as_hashes_and_their_use_is_recorded(
    gateway: Gateway, desk: tuple[int, dict[str, str]], engine: Engine
) -> None:
    from bot.db.models import AgentCredential

    client, _ = gateway
    _, tokens = desk
    token = tokens["AG-01"]
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    lena = select(AgentCredential).where(AgentCredential.agent_id == "AG-01")
    with session_factory(engine)() as session:
        [row] = session.execute(lena).scalars().all()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.created_at is not None and row.last_used_at is None and row.revoked_at is None
        assert token not in repr([getattr(row, c.name) for c in AgentCredential.__table__.columns])
    assert (await client.get("/api/v1/agents/me", headers=bearer(token))).status == 200
    with session_factory(engine)() as session:
        [row] = session.execute(lena).scalars().all()
        assert row.last_used_at is not None
