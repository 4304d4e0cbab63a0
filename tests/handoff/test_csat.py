"""CSAT after a resolved handoff: stored on the conversation's latest resolved handoff."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.models import Conversation, Handoff, HandoffStatus
from bot.handoff.requests import HandoffRequests


def test_record_csat_scores_the_latest_resolved_handoff(migrated_engine: Engine) -> None:
    requests = HandoffRequests(migrated_engine)
    assert requests.record_csat("csat-conv", 4) is False  # no handoff yet
    ref, _ = requests.request("csat-conv", "customer_request", {}, channel="web")
    assert requests.record_csat("csat-conv", 4) is False  # still open
    with session_factory(migrated_engine).begin() as session:
        handoff = session.get(Handoff, ref.id)
        handoff.status = HandoffStatus.RESOLVED
        handoff.resolved_at = handoff.created_at
    assert requests.record_csat("csat-conv", 5) is True
    with session_factory(migrated_engine)() as session:
        stored = session.get(Handoff, ref.id)
        assert stored.csat == 5 and stored.csat_at is not None
        assert session.get(Conversation, "csat-conv") is not None
    with pytest.raises(ValueError):
        requests.record_csat("csat-conv", 6)
