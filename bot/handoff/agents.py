"""Agents' own API credentials: issue and revoke tokens, and say whose a bearer token is.

Every agent front end that is not Slack (the agent API and the web console on it) acts as the
agent whose token it holds; nothing in a request names the agent. A token is 32 random bytes
(43 URL-safe characters), shown once when issued and stored only as its SHA-256: with 256
random bits a fast hash is as safe as a slow one, and it lets a request find its credential
by an indexed equality lookup. Tokens are revoked, never deleted, so each row keeps when it
was made, last used and revoked. ``python -m bot agents token|revoke|list`` manages them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.models import Agent, AgentCredential, utcnow

_LOGGER = logging.getLogger(__name__)

TOKEN_BYTES = 32
#: A request writes ``last_used_at`` only when the stored time is older than this (the console polls every 2 s).
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
#: Longer bearer values are not tokens of ours; they are refused without hashing.
_MAX_TOKEN_CHARS = 256

TokenOutcome = Literal["agent", "unknown", "revoked", "inactive"]


class UnknownAgent(LookupError):
    """No agent with that id is on the roster."""


class InactiveAgent(ValueError):
    """The agent is on the roster but not active (``active: false`` in data/agents.yml)."""


@dataclass(frozen=True)
class AgentIdentity:
    """Who a token belongs to."""

    id: str
    name: str


@dataclass(frozen=True)
class TokenCheck:
    """What a bearer token turned out to be; ``agent`` is set for ``agent`` and ``inactive``."""

    outcome: TokenOutcome
    agent: AgentIdentity | None = None


@dataclass(frozen=True)
class AgentAccess:
    """An agent on the roster and their credentials (for ``python -m bot agents list``)."""

    id: str
    name: str
    active: bool
    tokens: int
    last_used_at: dt.datetime | None


def token_hash(token: str) -> str:
    """The stored form of a token: SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class AgentCredentials:
    """Agents' API tokens in the ``agent_credentials`` table (synchronous; async callers use a thread)."""

    def __init__(self, engine: Engine) -> None:
        """Keep credentials in ``engine``'s database."""
        self._sessions = session_factory(engine)

    def issue(self, agent_id: str) -> str:
        """A new token for an active agent (earlier tokens stay valid until revoked).

        Returns:
            The token; it is not stored and cannot be shown again.

        Raises:
            UnknownAgent: no agent with that id.
            InactiveAgent: the agent is not active.
        """
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._sessions.begin() as session:
            agent = session.get(Agent, agent_id)
            if agent is None:
                raise UnknownAgent(agent_id)
            if not agent.active:
                raise InactiveAgent(agent_id)
            session.add(AgentCredential(agent_id=agent_id, token_hash=token_hash(token)))
        _LOGGER.info("agent_credentials.issued agent=%s", agent_id)
        return token

    def register(self, agent_id: str, token: str) -> bool:
        """Make a token the caller already holds one of ``agent_id``'s (the development demo token).

        Returns:
            True when the token is now valid for the agent (newly stored or already theirs);
            False when it was revoked or belongs to another agent: the caller needs a new one.

        Raises:
            UnknownAgent: no agent with that id.
        """
        digest = token_hash(token)
        with self._sessions.begin() as session:
            if session.get(Agent, agent_id) is None:
                raise UnknownAgent(agent_id)
            known = session.execute(
                select(AgentCredential).where(AgentCredential.token_hash == digest)
            ).scalar_one_or_none()
            if known is None:
                session.add(AgentCredential(agent_id=agent_id, token_hash=digest))
                return True
            return bool(known.agent_id == agent_id and known.revoked_at is None)

    def revoke(self, agent_id: str) -> int:
        """Revoke every valid token of an agent; the number revoked.

        Raises:
            UnknownAgent: no agent with that id.
        """
        with self._sessions.begin() as session:
            if session.get(Agent, agent_id) is None:
                raise UnknownAgent(agent_id)
            result = session.execute(
                update(AgentCredential)
                .where(AgentCredential.agent_id == agent_id, AgentCredential.revoked_at.is_(None))
                .values(revoked_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        revoked = int(result.rowcount or 0)
        _LOGGER.info("agent_credentials.revoked agent=%s count=%d", agent_id, revoked)
        return revoked

    def check(self, token: str) -> TokenCheck:
        """Whose token this is, and whether it may act; records when it was last used."""
        if not token or len(token) > _MAX_TOKEN_CHARS:
            return TokenCheck("unknown")
        with self._sessions.begin() as session:
            found = session.execute(
                select(AgentCredential, Agent)
                .join(Agent, Agent.id == AgentCredential.agent_id)
                .where(AgentCredential.token_hash == token_hash(token))
            ).first()
            if found is None:
                return TokenCheck("unknown")
            credential, agent = found
            if credential.revoked_at is not None:
                _LOGGER.warning("agent_credentials.revoked_token_used agent=%s", agent.id)
                return TokenCheck("revoked")
            identity = AgentIdentity(str(agent.id), str(agent.name))
            if not agent.active:
                return TokenCheck("inactive", identity)
            now = utcnow()
            if credential.last_used_at is None or now - credential.last_used_at >= LAST_USED_RESOLUTION:
                credential.last_used_at = now
            return TokenCheck("agent", identity)

    def first_active_agent(self) -> AgentIdentity | None:
        """The active agent with the lowest id (the development demo signs in as them)."""
        with self._sessions() as session:
            agent = session.execute(
                select(Agent).where(Agent.active.is_(True)).order_by(Agent.id).limit(1)
            ).scalar_one_or_none()
            return AgentIdentity(str(agent.id), str(agent.name)) if agent is not None else None

    def roster(self) -> list[AgentAccess]:
        """Every agent with the number of valid tokens and when one was last used."""
        valid = AgentCredential.revoked_at.is_(None)
        query = (
            select(
                Agent.id,
                Agent.name,
                Agent.active,
                func.count(AgentCredential.id),
                func.max(AgentCredential.last_used_at),
            )
            .outerjoin(AgentCredential, (AgentCredential.agent_id == Agent.id) & valid)
            .group_by(Agent.id, Agent.name, Agent.active)
            .order_by(Agent.id)
        )
        with self._sessions() as session:
            return [
                AgentAccess(str(agent_id), str(name), bool(active), int(tokens), last_used)
                for agent_id, name, active, tokens, last_used in session.execute(query)
            ]
