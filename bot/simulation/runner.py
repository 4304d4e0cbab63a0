"""The simulation's run: a seeded plan of visits, played a few at a time, with progress and a summary."""

from __future__ import annotations

import asyncio
import random
import secrets
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.diagnostics import DiagnosticTree
from bot.simulation.desk import AgentDesk, DeskAgent, issue_agent_tokens
from bot.simulation.guides import GuideWalker
from bot.simulation.people import CustomerRecords, KnownCustomer
from bot.simulation.phrases import Phrasebook
from bot.simulation.scenarios import SCENARIOS, Scenario
from bot.simulation.transport import TURN_TIMEOUT_S, Gateway, SimulationError, StackUnavailable
from bot.simulation.visit import Tally, Visit

DAY_S = 86400.0


def plan(conversations: int, seed: int, scenarios: Sequence[Scenario] = SCENARIOS) -> list[Scenario]:
    """The visits to play, in order: ``conversations`` conversations split by the scenarios' weights.

    Every scenario gets at least one visit when there are enough conversations for all, the rest
    by largest remainder; the order is shuffled with ``seed``, so a seed always gives the same plan.
    """
    total_weight = sum(s.weight for s in scenarios)
    shares = {s.name: conversations * s.weight / total_weight / s.conversations for s in scenarios}
    least = 1 if conversations >= sum(s.conversations for s in scenarios) else 0
    runs = {s.name: max(int(shares[s.name]), least) for s in scenarios}

    def used() -> int:
        return sum(runs[s.name] * s.conversations for s in scenarios)

    while used() > conversations:  # the minimum of one each overshot: take from the most over its share
        over = [s for s in scenarios if runs[s.name] > least]
        runs[max(over, key=lambda s: (runs[s.name] - shares[s.name], s.name)).name] -= 1
    while used() < conversations:  # then the largest remainders, with what still fits
        fits = [s for s in scenarios if used() + s.conversations <= conversations]
        runs[max(fits, key=lambda s: (shares[s.name] - runs[s.name], s.name)).name] += 1
    visits = [s for s in scenarios for _ in range(runs[s.name])]
    random.Random(seed).shuffle(visits)
    return visits


@dataclass
class Summary:
    """What a run did: per scenario the labels of what happened, failures, and the run's tally."""

    seed: int
    concurrency: int
    conversations: int = 0
    seconds: float = 0.0
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)
    agents: tuple[str, ...] = ()
    #: Each visit's conversation ids, by the visit's place in the plan.
    visits: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        """Visits that failed with an error."""
        return sum(len(errors) for errors in self.failures.values())

    def render(self) -> str:
        """The summary as text for a terminal."""
        t = self.tally
        minutes, seconds = divmod(int(self.seconds), 60)
        channels = ", ".join(f"{n} {channel}" for channel, n in sorted(t.channels.items()))
        lines = [
            f"Simulated {self.conversations} conversations in {minutes} min {seconds} s "
            f"(seed {self.seed}, {self.concurrency} at a time): {t.messages} customer messages; {channels}.",
            f"Handoffs: {t.handoffs} opened, {t.claimed} claimed by an agent, {t.resolved} resolved "
            f"(agents {', '.join(self.agents)}).",
            f"Ratings: of the bot {_scores(t.bot_scores)}; of an agent {_scores(t.agent_scores)}.",
            "",
            f"{'scenario':20s} {'runs':>4s}  what happened",
        ]
        for name, outcomes in self.outcomes.items():
            failed = len(self.failures.get(name, []))
            what = ", ".join(f"{label} {n}" for label, n in outcomes.most_common())
            what += f"{', ' if what else ''}FAILED {failed}" if failed else ""
            lines.append(f"{name:20s} {sum(outcomes.values()) + failed:4d}  {what}")
        for name, errors in self.failures.items():
            for error in errors[:3]:
                lines.append(f"  failed ({name}): {error}")
        return "\n".join(lines)


def _scores(scores: list[int]) -> str:
    return f"{len(scores)} (mean {statistics.fmean(scores):.2f})" if scores else "none"


@dataclass(frozen=True)
class _Cast:
    """What every visit of a run shares: the gateway, the agents at their desk, the demo customers."""

    gateway: Gateway
    desk: AgentDesk
    agents: list[DeskAgent]
    demo: list[KnownCustomer]
    run_id: str


class Simulation:
    """Plays simulated customers and agents against a running gateway."""

    def __init__(
        self,
        *,
        gateway_url: str,
        api_token: str,
        identity_secret: str,
        engine: Engine,
        phrases: Phrasebook,
        guides: Mapping[str, DiagnosticTree],
        out: Callable[[str], None] = print,
        agent_pace: float = 1.0,
    ) -> None:
        """Reach the gateway at ``gateway_url``; ``engine`` is its database (for customers, orders, agent tokens)."""
        self._url, self._api_token, self._secret = gateway_url, api_token, identity_secret
        self._engine, self._phrases, self._out, self._agent_pace = engine, phrases, out, agent_pace
        self._walkers = {guide_id: GuideWalker(tree) for guide_id, tree in guides.items()}

    async def run(
        self, conversations: int, *, seed: int, concurrency: int = 4, days: float = 0.0, backdate_days: float = 0.0
    ) -> Summary:
        """Play ``conversations`` conversations, ``concurrency`` at a time, starting over ``days`` real days.

        ``backdate_days`` only changes what the introduction announces: the caller moves the
        played visits afterwards (:mod:`bot.simulation.backdate`).

        Raises:
            StackUnavailable: The gateway is unreachable or not ready, or uses another database.
        """
        visits = plan(conversations, seed)
        summary = Summary(seed=seed, concurrency=concurrency, outcomes={s.name: Counter() for s in SCENARIOS})
        started = time.monotonic()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT_S + 30)) as session:
            gateway = Gateway(session, self._url, self._api_token)
            await gateway.ready()
            cast = await self._cast(gateway)
            summary.agents = tuple(agent.id for agent in cast.agents)
            self._out(self._intro(len(visits), conversations, seed, concurrency, days, backdate_days))
            limit = asyncio.Semaphore(concurrency)
            progress = _Progress(conversations, summary, self._out)
            spacing = days * DAY_S / len(visits)

            async def one(index: int, scenario: Scenario) -> None:
                await asyncio.sleep(max(0.0, started + index * spacing - time.monotonic()))  # --days: an even pace
                async with limit:
                    await self._play(scenario, self._visit(cast, index, seed, summary.tally), summary)
                progress.done(scenario.conversations)

            tasks = [asyncio.create_task(one(i, scenario)) for i, scenario in enumerate(visits)]
            try:
                await asyncio.gather(*tasks)
            finally:  # the stack went away: stop the others
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        summary.seconds = time.monotonic() - started
        return summary

    async def _cast(self, gateway: Gateway) -> _Cast:
        """Who plays: the agents (a token each, known to the gateway) and the demo customers, from its database."""
        try:
            agents = await asyncio.to_thread(issue_agent_tokens, self._engine)
            demo = await asyncio.to_thread(CustomerRecords(self._engine).demo_customers)
        except SQLAlchemyError as exc:
            url = self._engine.url.render_as_string(hide_password=True)
            raise StackUnavailable(
                f"cannot use the database {url} ({type(exc).__name__}); run simulate with the running bot's "
                "settings (BOT_DATABASE_URL or BOT_VAR_DIR)"
            ) from exc
        desk = AgentDesk(gateway)
        await desk.check(agents[0])
        return _Cast(gateway, desk, agents, demo, run_id=secrets.token_hex(3))

    def _visit(self, cast: _Cast, index: int, seed: int, tally: Tally) -> Visit:
        """The means of visit ``index``, with its own random generator (so the concurrency changes nothing)."""
        return Visit(
            index=index,
            run_id=cast.run_id,
            rng=random.Random(f"{seed}:{index}"),
            gateway=cast.gateway,
            desk=cast.desk,
            agents=cast.agents,
            phrases=self._phrases,
            walkers=self._walkers,
            records=CustomerRecords(self._engine),
            demo=cast.demo,
            identity_secret=self._secret,
            tally=tally,
            agent_pace=self._agent_pace,
        )

    @staticmethod
    async def _play(scenario: Scenario, visit: Visit, summary: Summary) -> None:
        """Play one visit and note what happened; a refused request fails only this visit."""
        try:
            outcome = await scenario.play(visit)
            if await visit.unplanned_handoffs():
                outcome += " (and a handoff left open)"
            summary.outcomes[scenario.name][outcome] += 1
        except StackUnavailable:
            raise
        except SimulationError as exc:
            summary.failures.setdefault(scenario.name, []).append(str(exc))
        finally:
            summary.visits[visit.index] = tuple(visit.conversation_ids)
            await visit.close()

    def _intro(
        self, visits: int, conversations: int, seed: int, concurrency: int, days: float, backdate_days: float
    ) -> str:
        if days > 0:
            pace = f", starting over {days:g} days in real time (keep this running)"
        elif backdate_days > 0:
            pace = f"; played now, then each visit moved as a whole to a start over the last {backdate_days:g} days"
        else:
            pace = "; each conversation is stamped now by the gateway (nothing is backdated)"

        return (
            f"Simulating {conversations} conversations ({visits} customer visits) against {self._url} "
            f"with seed {seed}, {concurrency} at a time{pace}."
        )


class _Progress:
    """Prints "simulated 40/300 conversations …" every tenth of the way (at least every 10)."""

    def __init__(self, total: int, summary: Summary, out: Callable[[str], None]) -> None:
        self._total, self._summary, self._out = total, summary, out
        self._step = max(1, min(10, total // 10))

    def done(self, conversations: int) -> None:
        before = self._summary.conversations
        self._summary.conversations += conversations
        after = self._summary.conversations
        if after // self._step > before // self._step or after == self._total:
            t = self._summary.tally
            self._out(
                f"simulated {after}/{self._total} conversations … {t.handoffs} handoffs, "
                f"{len(t.bot_scores) + len(t.agent_scores)} ratings, {self._summary.failed} failed"
            )
