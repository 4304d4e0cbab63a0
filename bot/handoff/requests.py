"""Recording a customer's request for a human agent."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.conversations.store import HandoffRef
from bot.db.engine import session_factory
from bot.db.models import Conversation, Handoff, HandoffStatus

_LOGGER = logging.getLogger(__name__)

REASONS = ("customer_request", "frustration", "low_confidence", "diagnostics_exhausted", "form_failed")


@dataclass(frozen=True)
class OpenHandoff:
    """An open or claimed handoff of a customer, as the customer may be told about it."""

    id: int
    status: str
    reason: str
    created_at: dt.datetime


class HandoffRequests:
    """Creates at most one open handoff per conversation."""

    def __init__(self, engine: Engine) -> None:
        """Use ``engine`` for every write."""
        self._sessions = session_factory(engine)

    def request(
        self, conversation_id: str, reason: str, packet: Mapping[str, Any], channel: str = "unknown"
    ) -> tuple[HandoffRef, bool]:
        """Open a handoff for the conversation unless one is already open.

        Returns:
            The open handoff and whether it was created now.

        Raises:
            ValueError: ``reason`` is not one of :data:`REASONS`.
        """
        if reason not in REASONS:
            raise ValueError(f"unknown handoff reason {reason!r}")
        with self._sessions.begin() as session:
            if session.get(Conversation, conversation_id) is None:
                session.add(Conversation(id=conversation_id, channel=channel))
                session.flush()
            existing = session.execute(
                select(Handoff).where(
                    Handoff.conversation_id == conversation_id, Handoff.status != HandoffStatus.RESOLVED
                )
            ).scalar_one_or_none()
            if existing is not None:
                return HandoffRef(id=existing.id, status=existing.status.value), False
            handoff = Handoff(
                conversation_id=conversation_id, status=HandoffStatus.OPEN, reason=reason, packet=dict(packet)
            )
            session.add(handoff)
            session.flush()
            ref = HandoffRef(id=handoff.id, status=HandoffStatus.OPEN.value)
        _LOGGER.info("handoff.created id=%d reason=%s", ref.id, reason)
        return ref, True

    def open_for_customer(self, customer_id: str) -> list[OpenHandoff]:
        """Open and claimed handoffs of every conversation verified as ``customer_id``, oldest first."""
        with self._sessions() as session:
            rows = session.execute(
                select(Handoff)
                .join(Conversation, Conversation.id == Handoff.conversation_id)
                .where(Conversation.customer_id == customer_id, Handoff.status != HandoffStatus.RESOLVED)
                .order_by(Handoff.created_at)
            ).scalars()
            return [OpenHandoff(h.id, h.status.value, h.reason, h.created_at) for h in rows]
