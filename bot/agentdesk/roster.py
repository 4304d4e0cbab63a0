"""Who is who for the Slack desk: agents by Slack member id, their names and Slack ids (SQL in a thread)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.models import Agent


@dataclass(frozen=True)
class SlackAgent:
    """An active agent known by their Slack member id."""

    id: str
    name: str


class SlackRoster:
    """Lookups in the ``agents`` table (``data/agents.yml``: ``slack_user_id``)."""

    def __init__(self, engine: Engine) -> None:
        """Read ``engine``'s agents table."""
        self._sessions = session_factory(engine)

    async def agent_for(self, slack_user_id: str) -> SlackAgent | None:
        """The active agent with that Slack member id."""
        return await asyncio.to_thread(self._agent_for, slack_user_id)

    def _agent_for(self, slack_user_id: str) -> SlackAgent | None:
        with self._sessions() as session:
            row = (
                session.execute(select(Agent).where(Agent.slack_user_id == slack_user_id, Agent.active.is_(True)))
                .scalars()
                .first()
            )
            return SlackAgent(row.id, row.name) if row is not None else None

    async def name(self, agent_id: str) -> str:
        """The agent's name (their id when unknown)."""
        return (await asyncio.to_thread(self._lookup, agent_id))[0]

    async def slack_user(self, agent_id: str) -> str | None:
        """The agent's Slack member id, when on file."""
        return (await asyncio.to_thread(self._lookup, agent_id))[1]

    def _lookup(self, agent_id: str) -> tuple[str, str | None]:
        with self._sessions() as session:
            row = session.get(Agent, agent_id)
            if row is None:
                return agent_id, None
            return str(row.name), (str(row.slack_user_id) if row.slack_user_id else None)
