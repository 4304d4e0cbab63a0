"""Retry long enough, then set aside where agents see it (issue 14, point 7)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from sqlalchemy.engine import Engine

from bot.channels.inbox import Inbox
from bot.channels.retry import DEAD, DEFAULT_POLICY, RetryPolicy
from bot.db.engine import session_factory
from bot.db.models import Agent, InboxItem, utcnow
from bot.gateway.keys import AGENTS, ENGINE
from bot.settings import Settings
from tests.channels.test_telegram import CHAT, start_rig


def _waited(policy: RetryPolicy, attempts: int) -> float:
    return sum(policy.backoff(n) for n in range(1, attempts + 1))


def test_a_day_of_errors_is_retried_before_giving_up() -> None:
    """Three minutes of 5xx used to be the end; now only a full day of errors is."""
    attempts = 1
    while not DEFAULT_POLICY.exhausted(attempts):
        attempts += 1
    assert _waited(DEFAULT_POLICY, attempts) >= 24 * 3600
    assert _waited(DEFAULT_POLICY, attempts - 1) < 24 * 3600
    assert not DEFAULT_POLICY.exhausted(10)  # about three minutes of failures
    assert max(DEFAULT_POLICY.backoff(n) for n in range(1, attempts + 1)) == 900  # waits are capped at 15 min
    assert 0.4 <= DEFAULT_POLICY.delay(1) <= 0.6  # jittered around 0.5 s


async def test_an_undeliverable_reply_becomes_a_dead_letter_that_an_agent_sends_again(settings: Settings) -> None:
    async for rig in start_rig(settings, limits={"retry_for_s": 3.0}):
        with session_factory(rig.client.server.app[ENGINE]).begin() as session:
            session.add(Agent(id="AG-01", name="Lena", email="lena@example.com"))
        agent = {"Authorization": f"Bearer {rig.client.server.app[AGENTS].issue('AG-01')}"}
        rig.telegram.fail_next("sendMessage", "5xx", count=3)  # 0.5 + 1 + 2 s of waits: over the 3 s
        assert await rig.deliver(rig.telegram.text_update(CHAT, "hello")) == 200
        deadline = time.monotonic() + 20
        while (await rig.counts())[1].get(DEAD) != 1:
            assert time.monotonic() < deadline, await rig.counts()
            await asyncio.sleep(0.1)
        assert rig.telegram.sent(CHAT) == []
        listed = await (await rig.client.get("/api/v1/dead-letters", headers=agent)).json()
        [dead] = listed["outbox"]
        assert (dead["platform"], dead["conversation_id"], dead["attempts"]) == ("telegram", f"telegram-{CHAT}", 3)
        assert "Bad Gateway" in dead["error"] and listed["inbox"] == []
        metrics = await (await rig.client.get("/metrics")).text()
        assert 'bot_dead_letters{queue="outbox"} 1' in metrics
        assert (await rig.client.post(f"/api/v1/dead-letters/outbox/{dead['id']}/retry", headers=agent)).status == 200
        sent = await rig.telegram.wait_sent(CHAT, 1, timeout=10)
        assert [m["text"] for m in sent] == ["you said: hello"]
        assert (await rig.settled())[1] == {"sent": 1}
        assert (await rig.client.post(f"/api/v1/dead-letters/outbox/{dead['id']}/retry", headers=agent)).status == 404
        assert (await rig.client.get("/api/v1/dead-letters")).status == 401


async def test_a_failing_event_becomes_a_dead_letter_and_is_kept(migrated_engine: Engine) -> None:
    inbox = Inbox(migrated_engine, "replica-1", policy=RetryPolicy(give_up_after=dt.timedelta(seconds=1)))
    assert await inbox.accept("telegram", "u-1", "telegram-1", {"update_id": 1})
    [event] = await inbox.claim(["telegram"])
    assert await inbox.retry_later(event.id, 1, "ValueError")  # 0.5 s waited: try again later
    assert not await inbox.retry_later(event.id, 2, "ValueError")  # 1.5 s: a dead letter
    [dead] = await inbox.dead_letters()
    assert (dead.id, dead.state, dead.error) == (event.id, DEAD, "ValueError")
    with session_factory(migrated_engine).begin() as session:  # as old as a finished event that is purged
        session.get(InboxItem, event.id).received_at = utcnow() - dt.timedelta(days=4)
    assert await inbox.purge() == 0  # dead letters are not purged with the finished events
    assert await inbox.revive(event.id) and not await inbox.revive(event.id)
    assert [e.id for e in await inbox.claim(["telegram"])] == [event.id]
