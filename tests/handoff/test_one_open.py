"""One unresolved handoff per conversation, even when replicas open one at the same moment (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.db.models import Conversation, Handoff
from bot.handoff.requests import HandoffRequests

RACERS = 6


def test_handoffs_opened_at_once_are_one(migrated_engine: Engine) -> None:
    barrier = threading.Barrier(RACERS)

    def open_one(n: int) -> tuple[int, bool]:
        requests = HandoffRequests(migrated_engine)  # each replica has its own
        barrier.wait()
        ref, created = requests.request("c-race", "customer_request", {"n": n}, channel="web")
        return ref.id, created

    with ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(open_one, range(RACERS)))
    assert len({handoff_id for handoff_id, _ in results}) == 1, results
    assert sum(created for _, created in results) == 1, results
    with migrated_engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM handoffs")).scalar_one() == 1
        assert connection.execute(sa.text("SELECT COUNT(*) FROM conversations")).scalar_one() == 1


def test_the_database_refuses_a_second_unresolved_handoff_but_not_a_later_one(migrated_engine: Engine) -> None:
    table = Handoff.__table__
    with migrated_engine.begin() as connection:
        connection.execute(Conversation.__table__.insert().values(id="c1", channel="web"))
        connection.execute(
            table.insert().values(conversation_id="c1", status="open", reason="customer_request", packet={})
        )
    with pytest.raises(IntegrityError), migrated_engine.begin() as connection:
        connection.execute(
            table.insert().values(conversation_id="c1", status="claimed", reason="frustration", packet={})
        )
    with migrated_engine.begin() as connection:
        connection.execute(table.update().values(status="resolved"))
        connection.execute(table.insert().values(conversation_id="c1", status="open", reason="frustration", packet={}))
        assert connection.execute(sa.text("SELECT COUNT(*) FROM handoffs")).scalar_one() == 2
