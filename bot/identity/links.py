"""Whether a chat is linked to a customer now: a link unused for longer than the idle limit no longer counts.

Used by the gateway (who writes this message) and the action server (who is asking), so both
apply one rule. A lookup that finds the link alive records the moment (``last_seen_at``); one
that finds it idle too long removes it, and the customer verifies again by code.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import ChannelIdentity

_LOGGER = logging.getLogger(__name__)

#: The default idle limit (``BOT_LINK_IDLE_DAYS``).
DEFAULT_IDLE = dt.timedelta(days=30)


def current_link(
    session: Session, channel: str, external_id: str, *, idle: dt.timedelta, now: dt.datetime
) -> str | None:
    """The customer ``channel``/``external_id`` is linked to at ``now`` (naive UTC), in the caller's transaction."""
    row = session.execute(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel,
            ChannelIdentity.external_id == external_id,
            ChannelIdentity.customer_id.isnot(None),
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    last_used = row.last_seen_at or row.linked_at or row.created_at
    if last_used is not None and now - last_used > idle:
        row.customer_id = None
        row.linked_at = None
        _LOGGER.info("identity.link_expired channel=%s idle_days=%d", channel, (now - last_used).days)
        return None
    row.last_seen_at = now
    return str(row.customer_id)
