"""Simulated agents working the handoff queue over the agent API, each with their own token."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from bot.handoff.agents import AgentCredentials
from bot.simulation.transport import Gateway, Reply, SimulationError, StackUnavailable

#: Agents the simulation acts as (the first active agents after the demo's own sign-in agent).
AGENTS = 3


@dataclass(frozen=True)
class DeskAgent:
    """An agent the simulation acts as: id, first name, and the API token issued to them for this run."""

    id: str
    first_name: str
    token: str


def issue_agent_tokens(engine: Engine, count: int = AGENTS) -> list[DeskAgent]:
    """A new API token for each of ``count`` active agents, as ``python -m bot agents token`` issues one.

    The first active agent (the one ``python -m bot run`` signs the demo console in as) is used
    only when there is no other, so ``agents revoke`` of a simulated agent leaves the demo's token alone.

    Raises:
        SimulationError: No agent is active.
    """
    credentials = AgentCredentials(engine)
    active = [agent for agent in credentials.roster() if agent.active]
    chosen = (active[1:] or active)[:count]
    if not chosen:
        raise SimulationError("no active agent in the database (data/agents.yml, python -m bot seed)")
    return [DeskAgent(agent.id, agent.name.split()[0], credentials.issue(agent.id)) for agent in chosen]


class AgentDesk:
    """Claim, reply, resolve: what an agent's console does, over ``/api/v1/handoffs``."""

    def __init__(self, gateway: Gateway) -> None:
        """Work handoffs on ``gateway``."""
        self._gateway = gateway

    async def check(self, agent: DeskAgent) -> None:
        """Make sure the gateway knows the agent's token (the simulation writes to the gateway's database).

        Raises:
            StackUnavailable: The token is unknown there: the gateway uses another database.
        """
        try:
            await self._gateway.request("GET", "/api/v1/agents/me", token=agent.token)
        except StackUnavailable:
            raise
        except SimulationError as exc:
            raise StackUnavailable(
                f"the gateway at {self._gateway.url} does not know the agent token just issued in this "
                "command's database: it runs on another database (BOT_DATABASE_URL / BOT_VAR_DIR differ?)"
            ) from exc

    async def claim(self, handoff_id: int, agent: DeskAgent) -> None:
        """Take the handoff."""
        await self._gateway.request("POST", f"/api/v1/handoffs/{handoff_id}/claim", token=agent.token, body={})

    async def write(self, handoff_id: int, agent: DeskAgent, text: str) -> None:
        """Reply to the customer (delivered on their channel)."""
        await self._gateway.request(
            "POST", f"/api/v1/handoffs/{handoff_id}/messages", token=agent.token, body={"text": text}, allowed=(201,)
        )

    async def resolve(self, handoff_id: int, agent: DeskAgent) -> Reply:
        """Close the handoff; the bot takes over again and asks the customer for a score (its replies)."""
        _, body = await self._gateway.request(
            "POST", f"/api/v1/handoffs/{handoff_id}/resolve", token=agent.token, body={}
        )
        return Reply.from_messages(body.get("bot_replies") or [])

    async def open_handoffs(self, conversation_id: str, agent: DeskAgent) -> set[int]:
        """The ids of the conversation's handoffs that wait for an agent."""
        _, body = await self._gateway.request("GET", "/api/v1/handoffs?status=open", token=agent.token)
        return {int(h["id"]) for h in body["handoffs"] if h["conversation_id"] == conversation_id}
