"""One simulated conversation's means, and what scenarios share: rating the help, an agent at work.

A :class:`Visit` holds the conversation's random generator, the stack's clients and the words;
:func:`work_handoff` is an agent working a handoff over the agent API.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from bot.identity.tokens import mint_customer_token
from bot.simulation.desk import AgentDesk, DeskAgent
from bot.simulation.guides import GuideWalker
from bot.simulation.people import CustomerRecords, KnownCustomer
from bot.simulation.phrases import Phrasebook
from bot.simulation.transport import CustomerChat, DirectChat, Gateway, Reply, WidgetChat

T = TypeVar("T")

#: How customers score (1-5) the bot's help and an agent's, as weights.
BOT_SCORES = {5: 40, 4: 30, 3: 15, 2: 8, 1: 7}
AGENT_SCORES = {5: 45, 4: 30, 3: 12, 2: 7, 1: 6}
#: How long a customer token the simulation signs is valid.
TOKEN_TTL_S = 3600


@dataclass
class Tally:
    """What the whole run did, across conversations."""

    messages: int = 0
    channels: Counter[str] = field(default_factory=Counter)
    handoffs: int = 0
    claimed: int = 0
    resolved: int = 0
    bot_scores: list[int] = field(default_factory=list)
    agent_scores: list[int] = field(default_factory=list)


@dataclass
class Visit:
    """Everything one simulated conversation (or a customer's two, for a repeat contact) uses."""

    index: int
    run_id: str
    rng: random.Random
    gateway: Gateway
    desk: AgentDesk
    agents: Sequence[DeskAgent]
    phrases: Phrasebook
    walkers: Mapping[str, GuideWalker]
    records: CustomerRecords
    demo: Sequence[KnownCustomer]
    identity_secret: str
    tally: Tally
    #: Scales the agents' pauses (reading, typing) between their steps.
    agent_pace: float = 1.0
    widgets: list[WidgetChat] = field(default_factory=list)
    #: Handoffs the customer's replies showed open, and those an agent was sent to.
    handoffs_seen: set[int] = field(default_factory=set)
    handoffs_worked: set[int] = field(default_factory=set)
    #: The conversations the visit opened, by id (``--backdate-days`` moves them together).
    conversation_ids: list[str] = field(default_factory=list)

    def chance(self, probability: float) -> bool:
        """True with ``probability``."""
        return self.rng.random() < probability

    def say_phrase(self, kind: str, **values: str) -> str:
        """A phrase of ``kind`` (``data/simulation/customers.yml``)."""
        return self.phrases.pick(self.rng, kind, **values)

    def demo_customer(self) -> KnownCustomer | None:
        """A demo customer with orders, or None when the database has none."""
        return self.demo[self.rng.randrange(len(self.demo))] if self.demo else None

    async def in_thread(self, call: Callable[..., T], *args: object) -> T:
        """Run a database call of :class:`CustomerRecords` off the event loop."""
        return await asyncio.to_thread(call, *args)

    def direct(self, customer_id: str | None = None, suffix: str = "") -> DirectChat:
        """A new direct-API conversation, verified as ``customer_id`` when given."""
        token = mint_customer_token(customer_id, self.identity_secret, ttl_s=TOKEN_TTL_S) if customer_id else None
        self.tally.channels["direct"] += 1
        chat = DirectChat(self.gateway, f"sim-{self.run_id}-{self.index:04d}{suffix}", token)
        self.conversation_ids.append(chat.conversation_id)
        return chat

    async def widget(self, customer_id: str | None = None) -> WidgetChat:
        """A new conversation in the web widget (closed when the visit ends)."""
        token = mint_customer_token(customer_id, self.identity_secret, ttl_s=TOKEN_TTL_S) if customer_id else None
        chat = WidgetChat(self.gateway, token)
        self.widgets.append(chat)
        await chat.connect()
        self.conversation_ids.append(chat.conversation_id)
        self.tally.channels["web"] += 1
        return chat

    async def chat(self, web_share: float, customer_id: str | None = None) -> CustomerChat:
        """A new conversation in the web widget with probability ``web_share``, else on the direct API."""
        if self.chance(web_share):
            return await self.widget(customer_id)
        return self.direct(customer_id)

    async def close(self) -> None:
        """Close the widget tabs the visit opened."""
        for chat in self.widgets:
            await chat.close()

    async def say(self, chat: CustomerChat, text: str) -> Reply:
        """The customer types ``text``."""
        return self._seen(await chat.say(text))

    async def tap(self, chat: CustomerChat, button: tuple[str, str]) -> Reply:
        """The customer presses ``button``."""
        return self._seen(await chat.tap(button))

    def _seen(self, reply: Reply) -> Reply:
        self.tally.messages += 1
        if reply.handoff_id is not None:
            self.handoffs_seen.add(reply.handoff_id)
        return reply

    async def unplanned_handoffs(self) -> int:
        """Handoffs the bot opened that the scenario did not plan (they stay open; counted in the tally).

        The direct API names the open handoff in each answer; the widget's frames do not, so the
        agent API is asked about the visit's widget conversations.
        """
        for chat in self.widgets:
            self.handoffs_seen |= await self.desk.open_handoffs(chat.conversation_id, self.agents[0])
        unplanned = len(self.handoffs_seen - self.handoffs_worked)
        self.tally.handoffs += unplanned
        return unplanned

    async def pause(self, low: float, high: float) -> None:
        """An agent reads or types for a while."""
        await asyncio.sleep(self.rng.uniform(low, high) * self.agent_pace)

    async def maybe_goodbye(self, chat: CustomerChat, probability: float) -> None:
        """Some customers say goodbye; the others just close the chat."""
        if self.chance(probability):
            await self.say(chat, self.say_phrase("goodbyes"))


def _score(rng: random.Random, weights: Mapping[int, int]) -> int:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


async def rate_or_skip(visit: Visit, chat: CustomerChat, reply: Reply, *, agent: bool, rate: float = 0.75) -> str:
    """The customer answers the 1-5 question in ``reply``: taps a score, or leaves it.

    Returns:
        "rated", "no rating" (skipped) or "not asked" (the reply asked for no score).
    """
    asked = reply.button(lambda payload: payload.startswith("/csat"))
    if asked is None:
        return "not asked"
    if not visit.chance(rate):
        await visit.maybe_goodbye(chat, 0.4)
        return "no rating"
    score = _score(visit.rng, AGENT_SCORES if agent else BOT_SCORES)
    button = reply.button(lambda payload: payload.startswith("/csat") and f'"{score}"' in payload) or asked
    await visit.tap(chat, button)
    (visit.tally.agent_scores if agent else visit.tally.bot_scores).append(score)
    await visit.maybe_goodbye(chat, 0.3)
    return "rated"


async def work_handoff(visit: Visit, chat: CustomerChat, handoff_id: int) -> str:
    """An agent takes the handoff over the agent API: claims it, writes, resolves; the customer may rate.

    Some handoffs stay in the queue (nobody claimed them yet) and some stay with their agent.

    Returns:
        What happened: "left open", "claimed, still with the agent", or "resolved, rated" and the like.
    """
    visit.tally.handoffs += 1
    visit.handoffs_worked.add(handoff_id)
    fate = visit.rng.random()
    if fate < 0.18:
        return "left open"
    agent = visit.agents[visit.rng.randrange(len(visit.agents))]
    await visit.pause(1.0, 4.0)
    await visit.desk.claim(handoff_id, agent)
    visit.tally.claimed += 1
    await visit.pause(0.5, 2.0)
    await visit.desk.write(handoff_id, agent, visit.say_phrase("agent_openers", agent=agent.first_name))
    await visit.say(chat, visit.say_phrase("to_agent"))  # the bot stays silent while a person holds it
    if fate < 0.30:
        return "claimed, still with the agent"
    if visit.chance(0.6):
        await visit.pause(0.5, 2.0)
        await visit.desk.write(handoff_id, agent, visit.say_phrase("agent_closers"))
    await visit.pause(0.5, 2.0)
    reply = await visit.desk.resolve(handoff_id, agent)
    visit.tally.resolved += 1
    return f"resolved, {await rate_or_skip(visit, chat, reply, agent=True)}"
