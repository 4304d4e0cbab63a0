"""The router on a real database: first offer by skill, language, channel and capacity; the team; presence.

Agents are data/agents.yml's: Lena (AG-01: orders, returns, billing; de, en; capacity 2),
Sanne (AG-03: billing, subscriptions; nl, en, de), Priya (AG-06: billing, subscriptions, orders; en),
Camille (AG-04: orders, returns; fr, en; web and api only).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.models import AgentPresence, Handoff, HandoffNote, HandoffStatus, Message, utcnow
from bot.handoff.desk import HandoffDesk
from bot.handoff.events import HandoffEvent, HandoffEvents, HandoffOffered, HandoffQueued, PresenceChanged
from bot.handoff.requests import HandoffRequests
from bot.handoff.router import HandoffRouter
from bot.handoff.routing import load_routing
from bot.handoff.tools import HandoffTools
from bot.settings import PROJECT_ROOT

RULES = load_routing(PROJECT_ROOT / "data" / "routing.yml")
LENA, TOMAS, SANNE, CAMILLE, JONAS, PRIYA = "AG-01", "AG-02", "AG-03", "AG-04", "AG-05", "AG-06"


class Heard:
    def __init__(self) -> None:
        self.events: list[HandoffEvent] = []

    async def on_handoff_event(self, event: HandoffEvent) -> None:
        self.events.append(event)

    def offers(self) -> list[tuple[int, str]]:
        return [(e.handoff_id, e.agent_id) for e in self.events if isinstance(e, HandoffOffered)]

    def queued(self) -> list[tuple[int, str]]:
        return [(e.handoff_id, e.queue) for e in self.events if isinstance(e, HandoffQueued)]


@pytest.fixture
def rig(seeded_engine: Engine) -> tuple[HandoffRouter, Heard, Engine]:
    events = HandoffEvents()
    heard = Heard()
    events.subscribe(heard)
    return HandoffRouter(seeded_engine, RULES, events), heard, seeded_engine


def billing(language: str | None = "de") -> dict[str, Any]:
    return {
        "reason": "customer_request",
        "language": language,
        "intents": [{"text": "…", "ranking": [{"intent": "billing_question", "confidence": 0.9}]}],
    }


def open_handoff(engine: Engine, conversation: str, packet: dict[str, Any], channel: str = "web") -> int:
    ref, created = HandoffRequests(engine, RULES).request(conversation, "customer_request", packet, channel)
    assert created
    return ref.id


async def online(router: HandoffRouter, *agents: str) -> None:
    for agent in agents:
        assert await router.set_presence(agent, "online", via="slack") is not None


def hold(engine: Engine, agent: str, count: int) -> None:
    """Give ``agent`` ``count`` claimed handoffs of other conversations."""
    for n in range(count):
        handoff_id = open_handoff(engine, f"held-{agent}-{n}", {"reason": "customer_request"})
        with session_factory(engine).begin() as session:
            row = session.get(Handoff, handoff_id)
            row.status, row.agent_id, row.claimed_at, row.stage = HandoffStatus.CLAIMED, agent, utcnow(), "claimed"


async def test_a_german_billing_handoff_goes_first_to_the_billing_agent_who_speaks_german(rig: Any) -> None:
    router, heard, engine = rig
    await online(router, PRIYA, SANNE, TOMAS)
    handoff_id = open_handoff(engine, "c-de", billing("de"))
    result = await router.route(handoff_id)
    assert (result.outcome, result.agent_id, result.queue) == ("agent", SANNE, "billing")
    assert heard.offers() == [(handoff_id, SANNE)]
    with session_factory(engine)() as session:
        row = session.get(Handoff, handoff_id)
        assert (row.queue, row.language, row.stage, row.offered_to) == ("billing", "de", "agent", SANNE)
    # Routed once: a second route (another replica, the periodic check) changes nothing.
    assert (await router.route(handoff_id)).outcome == "none"
    assert heard.offers() == [(handoff_id, SANNE)]


async def test_an_agent_at_capacity_is_skipped(rig: Any) -> None:
    router, _heard, engine = rig
    await online(router, LENA, SANNE, PRIYA)
    hold(engine, LENA, 2)  # Lena's capacity is 2
    first = await router.route(open_handoff(engine, "c-1", billing("de")))
    assert first.agent_id == SANNE  # Lena speaks German too, but is full
    status = await router.agent(LENA)
    assert status is not None and (status.load, status.capacity, status.has_room) == (2, 2, False)


async def test_offers_in_flight_count_against_capacity_and_fewest_held_goes_first(rig: Any) -> None:
    router, _, engine = rig
    await online(router, LENA, PRIYA)
    hold(engine, LENA, 1)
    assert (await router.route(open_handoff(engine, "c-a", billing("de")))).agent_id == LENA  # speaks German
    # Lena now holds one and has one offer waiting: full at 2, so Priya gets the next.
    assert (await router.route(open_handoff(engine, "c-b", billing("de")))).agent_id == PRIYA
    # Without a language, the one holding fewest comes first.
    await router.set_presence(LENA, "offline", via="slack")
    assert (await router.route(open_handoff(engine, "c-c", billing(None)))).agent_id == PRIYA


async def test_nobody_fitting_sends_the_handoff_to_the_team_at_once(rig: Any) -> None:
    router, heard, engine = rig
    await online(router, TOMAS, CAMILLE)  # neither works billing
    handoff_id = open_handoff(engine, "c-team", billing("de"))
    result = await router.route(handoff_id)
    assert result.outcome == "team"
    assert heard.queued() == [(handoff_id, "billing")]
    # A channel the agent does not serve counts as not fitting: Camille serves web and api only.
    order_packet = {"reason": "customer_request", "intents": [{"ranking": [{"intent": "order_return"}]}]}
    telegram = open_handoff(engine, "telegram-1", order_packet, channel="telegram")
    assert (await router.route(telegram)).outcome == "team"
    web = open_handoff(engine, "web-1", order_packet, channel="web")
    assert (await router.route(web)).agent_id == CAMILLE


async def test_an_offer_not_taken_in_time_goes_to_the_team(rig: Any) -> None:
    router, heard, engine = rig
    await online(router, SANNE)
    handoff_id = open_handoff(engine, "c-late", billing("de"))
    await router.route(handoff_id)
    assert await router.check(utcnow() + dt.timedelta(seconds=RULES.offer_seconds - 5)) == []
    results = await router.check(utcnow() + dt.timedelta(seconds=RULES.offer_seconds + 1))
    assert [(r.outcome, r.handoff_id) for r in results] == [("team", handoff_id)]
    assert heard.queued() == [(handoff_id, "billing")]
    with session_factory(engine)() as session:
        row = session.get(Handoff, handoff_id)
        assert (row.stage, row.offered_to, row.passed_by) == ("team", None, [SANNE])
        history = session.execute(
            select(HandoffNote.kind, HandoffNote.text).where(HandoffNote.handoff_id == handoff_id)
        ).all()
    assert history == [("offer", "Offered to Sanne de Vries"), ("offer", "Offered to the billing team")]


async def test_declining_or_going_away_passes_the_offer_to_the_next_agent(rig: Any) -> None:
    router, heard, engine = rig
    await online(router, LENA, SANNE, PRIYA)
    handoff_id = open_handoff(engine, "c-pass", billing("de"))
    assert (await router.route(handoff_id)).agent_id == LENA
    assert await router.decline(handoff_id, SANNE) == "not_offered"
    assert await router.decline(handoff_id, LENA) == "declined"
    assert heard.offers()[-1] == (handoff_id, SANNE)
    await router.set_presence(SANNE, "away", via="slack")
    assert heard.offers()[-1] == (handoff_id, PRIYA)
    assert any(isinstance(e, PresenceChanged) and e.agent_id == SANNE and e.status == "away" for e in heard.events)
    await router.set_presence(PRIYA, "offline", via="slack")
    assert heard.queued() == [(handoff_id, "billing")]  # nobody left: the team


async def test_a_console_without_heartbeat_goes_offline_and_its_offers_move_on(rig: Any) -> None:
    _, heard, engine = rig
    events = HandoffEvents()
    events.subscribe(heard)
    router = HandoffRouter(engine, RULES, events, offer_s=300)  # offers outlast the heartbeat timeout here
    await router.set_presence(SANNE, "online", via="api")  # the console: needs a heartbeat
    await online(router, PRIYA)  # Slack: needs none
    handoff_id = open_handoff(engine, "c-hb", billing("de"))
    assert (await router.route(handoff_id)).agent_id == SANNE
    later = utcnow() + dt.timedelta(seconds=RULES.heartbeat_timeout_seconds + 1)
    results = await router.check(later)
    assert [(r.handoff_id, r.agent_id) for r in results] == [(handoff_id, PRIYA)]
    with session_factory(engine)() as session:
        assert session.get(AgentPresence, SANNE).status == "offline"
        assert session.get(AgentPresence, PRIYA).status == "online"
    # A late heartbeat does not bring the agent back; a heartbeat in time keeps a console agent online.
    with session_factory(engine).begin() as session:
        row = session.get(AgentPresence, SANNE)  # silent too long, and the check has not run yet
        row.status, row.seen_at = "online", utcnow() - dt.timedelta(seconds=RULES.heartbeat_timeout_seconds + 5)
    late = await router.heartbeat(SANNE)
    assert late is not None and late.presence == "offline"
    await router.set_presence(SANNE, "online", via="api")
    await router.heartbeat(SANNE)
    status = await router.agent(SANNE)
    assert status is not None and status.presence == "online"


async def test_while_offered_only_that_agent_may_claim(rig: Any) -> None:
    router, _, engine = rig
    await online(router, SANNE)
    handoff_id = open_handoff(engine, "c-claim", billing("de"))
    await router.route(handoff_id)
    desk = HandoffDesk(engine)
    assert await desk.claim(handoff_id, PRIYA) == "offered_to_another"
    assert await desk.claim(handoff_id, SANNE) == "claimed"
    assert (await router.agent(SANNE)).load == 1  # type: ignore[union-attr]


async def test_a_new_handoff_missed_by_its_replica_is_routed_by_the_check(rig: Any) -> None:
    router, _heard, engine = rig
    await online(router, SANNE)
    handoff_id = open_handoff(engine, "c-missed", billing("de"))
    assert await router.check(utcnow()) == []  # its own replica still has its moment
    results = await router.check(utcnow() + dt.timedelta(seconds=3))
    assert [(r.handoff_id, r.agent_id) for r in results] == [(handoff_id, SANNE)]


async def test_transfer_to_an_agent_or_back_to_a_queue(rig: Any) -> None:
    router, _heard, engine = rig
    tools = HandoffTools(engine, list(RULES.queues))
    await online(router, LENA, SANNE)
    handoff_id = open_handoff(engine, "c-move", billing("de"))
    await router.route(handoff_id)
    assert await HandoffDesk(engine).claim(handoff_id, LENA) == "claimed"
    assert (await tools.transfer(handoff_id, SANNE, to_agent=LENA, to_queue=None, note=None)).outcome == "not_yours"
    assert (await tools.transfer(handoff_id, LENA, to_agent=PRIYA, to_queue=None, note=None)).outcome == (
        "agent_unavailable"  # offline
    )
    assert (await tools.transfer(handoff_id, LENA, to_agent="AG-99", to_queue=None, note=None)).outcome == (
        "unknown_agent"
    )
    done = await tools.transfer(handoff_id, LENA, to_agent=SANNE, to_queue=None, note="VAT question, over to you")
    assert (done.outcome, done.to_agent) == ("transferred", SANNE)
    with session_factory(engine)() as session:
        row = session.get(Handoff, handoff_id)
        assert (row.status, row.agent_id) == (HandoffStatus.CLAIMED, SANNE)
    # Sanne passes it to the hardware queue: open again, routed anew, not offered back to her.
    assert (await tools.transfer(handoff_id, SANNE, to_agent=None, to_queue="nowhere", note=None)).outcome == (
        "unknown_queue"
    )
    back = await tools.transfer(handoff_id, SANNE, to_agent=None, to_queue="hardware", note=None)
    assert (back.outcome, back.queue) == ("transferred", "hardware")
    await online(router, JONAS)
    assert (await router.route(handoff_id)).agent_id == JONAS
    notes = await tools.notes(handoff_id)
    assert [n.kind for n in notes].count("transfer") == 2
    assert "VAT question, over to you" in [n.text for n in notes if n.kind == "note"]


async def test_notes_and_tags_never_become_messages(rig: Any) -> None:
    _, _, engine = rig
    tools = HandoffTools(engine, list(RULES.queues))
    handoff_id = open_handoff(engine, "c-note", billing("de"))
    added = await tools.add_note(handoff_id, LENA, "Customer was double charged; refund pending")
    assert added.outcome == "added" and added.note is not None and added.note.kind == "note"
    assert (await tools.add_note(handoff_id, LENA, "")).outcome == "empty"
    assert (await tools.add_note(999_999, LENA, "x")).outcome == "not_found"
    assert (await tools.set_tags(handoff_id, ["Refund", "vip", "refund"])).tags == ("refund", "vip")
    assert (await tools.set_tags(handoff_id, ["not a tag!"])).outcome == "invalid"
    assert (await tools.set_tags(handoff_id, [f"t{n}" for n in range(11)])).outcome == "invalid"
    with session_factory(engine)() as session:
        texts = session.execute(select(Message.text).where(Message.conversation_id == "c-note")).scalars().all()
    assert not any("double charged" in text for text in texts)
