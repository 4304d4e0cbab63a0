"""Agents' own API credentials: issued once, stored hashed, revoked, and resolved to their agent."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.models import Agent, AgentCredential
from bot.handoff.agents import AgentCredentials, AgentIdentity, InactiveAgent, TokenCheck, UnknownAgent

LENA = AgentIdentity("AG-01", "Lena")


@pytest.fixture
def credentials(migrated_engine: Engine) -> AgentCredentials:
    with session_factory(migrated_engine).begin() as session:
        session.add(Agent(id="AG-01", name="Lena", email="lena@example.com"))
        session.add(Agent(id="AG-02", name="Tomás", email="tomas@example.com"))
        session.add(Agent(id="AG-09", name="Former", email="former@example.com", active=False))
    return AgentCredentials(migrated_engine)


def _rows(engine: Engine) -> list[AgentCredential]:
    with session_factory(engine)() as session:
        return list(session.execute(select(AgentCredential).order_by(AgentCredential.id)).scalars())


def test_an_issued_token_names_its_agent_and_only_its_hash_is_kept(
    credentials: AgentCredentials, migrated_engine: Engine
) -> None:
    token = credentials.issue("AG-01")
    second = credentials.issue("AG-01")  # a second device: both stay valid
    assert token != second and len(token) == 43
    assert credentials.check(token) == credentials.check(second) == TokenCheck("agent", LENA)
    rows = _rows(migrated_engine)
    assert [row.token_hash for row in rows] == [hashlib.sha256(t.encode()).hexdigest() for t in (token, second)]
    for value in ("", "nope", token[:-1], token + "x", "x" * 10_000):
        assert credentials.check(value) == TokenCheck("unknown")
    with pytest.raises(UnknownAgent):
        credentials.issue("AG-77")
    with pytest.raises(InactiveAgent):
        credentials.issue("AG-09")


def test_revoking_stops_every_token_of_that_agent_only(credentials: AgentCredentials, migrated_engine: Engine) -> None:
    lena = [credentials.issue("AG-01"), credentials.issue("AG-01")]
    tomas = credentials.issue("AG-02")
    assert credentials.revoke("AG-01") == 2
    assert [credentials.check(t).outcome for t in lena] == ["revoked", "revoked"]
    assert credentials.check(tomas).outcome == "agent"
    assert credentials.revoke("AG-01") == 0
    assert all(row.revoked_at is not None for row in _rows(migrated_engine) if row.agent_id == "AG-01")
    with pytest.raises(UnknownAgent):
        credentials.revoke("AG-77")


def test_a_deactivated_agents_token_is_inactive(credentials: AgentCredentials, migrated_engine: Engine) -> None:
    token = credentials.issue("AG-02")
    with migrated_engine.begin() as connection:
        connection.execute(update(Agent).where(Agent.id == "AG-02").values(active=False))
    assert credentials.check(token) == TokenCheck("inactive", AgentIdentity("AG-02", "Tomás"))


def test_last_use_is_recorded_at_most_once_a_minute(credentials: AgentCredentials, migrated_engine: Engine) -> None:
    token = credentials.issue("AG-01")
    assert _rows(migrated_engine)[0].last_used_at is None
    credentials.check(token)
    first = _rows(migrated_engine)[0].last_used_at
    assert first is not None
    credentials.check(token)
    assert _rows(migrated_engine)[0].last_used_at == first
    long_ago = first - dt.timedelta(minutes=5)
    with migrated_engine.begin() as connection:
        connection.execute(update(AgentCredential).values(last_used_at=long_ago))
    credentials.check(token)
    assert _rows(migrated_engine)[0].last_used_at > long_ago  # type: ignore[operator]


def test_register_adopts_a_held_token_unless_revoked_or_someone_elses(credentials: AgentCredentials) -> None:
    assert credentials.register("AG-01", "demo-token") is True
    assert credentials.register("AG-01", "demo-token") is True  # idempotent
    assert credentials.check("demo-token") == TokenCheck("agent", LENA)
    assert credentials.register("AG-02", "demo-token") is False  # Lena's
    credentials.revoke("AG-01")
    assert credentials.register("AG-01", "demo-token") is False  # revoked stays revoked
    with pytest.raises(UnknownAgent):
        credentials.register("AG-77", "other")


def test_roster_and_first_active_agent(credentials: AgentCredentials) -> None:
    token = credentials.issue("AG-02")
    credentials.issue("AG-02")
    credentials.check(token)
    credentials.issue("AG-01")
    credentials.revoke("AG-01")
    roster = {agent.id: agent for agent in credentials.roster()}
    assert [(a.id, a.active, a.tokens) for a in roster.values()] == [
        ("AG-01", True, 0),
        ("AG-02", True, 2),
        ("AG-09", False, 0),
    ]
    assert roster["AG-02"].last_used_at is not None and roster["AG-01"].last_used_at is None
    assert credentials.first_active_agent() == LENA
