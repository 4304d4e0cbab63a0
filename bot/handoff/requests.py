"""Recording a customer's request for a human agent."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.core.messages import HandoffRef
from bot.db.engine import session_factory
from bot.db.models import Conversation, Handoff, HandoffStatus, utcnow
from bot.handoff.routing import RoutingRules

_LOGGER = logging.getLogger(__name__)

REASONS = (
    "customer_request",
    "frustration",
    "low_confidence",
    "diagnostics_exhausted",
    "form_failed",
    "complaint",
    "order_change",
)
#: Customer satisfaction scores a customer can give after a resolved handoff.
CSAT_SCORES = range(1, 6)


@dataclass(frozen=True)
class OpenHandoff:
    """An open or claimed handoff of a customer, as the customer may be told about it."""

    id: int
    status: str
    reason: str
    created_at: dt.datetime


class HandoffRequests:
    """Creates at most one open handoff per conversation."""

    def __init__(self, engine: Engine, rules: RoutingRules | None = None) -> None:
        """Use ``engine`` for every write; ``rules`` give each new handoff its queue (else the default queue)."""
        self._sessions = session_factory(engine)
        self._rules = rules

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
        try:
            return self._request(conversation_id, reason, packet, channel)
        except IntegrityError:
            # Another replica opened it (or the conversation) between our look and our insert:
            # the unique index refused ours, and looking again finds theirs.
            _LOGGER.info("handoff.request_raced")
            return self._request(conversation_id, reason, packet, channel)

    def _request(
        self, conversation_id: str, reason: str, packet: Mapping[str, Any], channel: str
    ) -> tuple[HandoffRef, bool]:
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
            language = packet.get("language")
            handoff = Handoff(
                conversation_id=conversation_id,
                status=HandoffStatus.OPEN,
                reason=reason,
                packet=dict(packet),
                queue=self._rules.queue_for(packet) if self._rules is not None else "general",
                language=language if isinstance(language, str) and len(language) <= 8 else None,
            )
            session.add(handoff)
            session.flush()
            ref = HandoffRef(id=handoff.id, status=HandoffStatus.OPEN.value)
        _LOGGER.info("handoff.created id=%d reason=%s queue=%s", ref.id, reason, handoff.queue)
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

    def record_csat(self, conversation_id: str, score: int) -> bool:
        """Store the customer's satisfaction score on the conversation's latest resolved handoff.

        Returns:
            Whether a resolved handoff was found (and scored; a later score replaces an earlier one).

        Raises:
            ValueError: ``score`` is not 1 to 5.
        """
        if score not in CSAT_SCORES:
            raise ValueError(f"CSAT score must be 1 to 5, not {score!r}")
        with self._sessions.begin() as session:
            handoff = (
                session.execute(
                    select(Handoff)
                    .where(Handoff.conversation_id == conversation_id, Handoff.status == HandoffStatus.RESOLVED)
                    .order_by(Handoff.resolved_at.desc(), Handoff.id.desc())
                    .limit(1)
                )
                .scalars()
                .first()
            )
            if handoff is None:
                return False
            handoff.csat = score
            handoff.csat_at = utcnow()
            handoff_id = handoff.id
        _LOGGER.info("handoff.csat id=%d score=%d", handoff_id, score)
        return True

    def open_handoff_id(self, conversation_id: str) -> int | None:
        """The conversation's unresolved handoff, if any."""
        with self._sessions() as session:
            found = session.execute(
                select(Handoff.id)
                .where(Handoff.conversation_id == conversation_id, Handoff.status != HandoffStatus.RESOLVED)
                .order_by(Handoff.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        return int(found) if found is not None else None
