"""What a customer is told when their handoff opens: their place in the queue, or when we open."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.models import Agent, Handoff, HandoffStatus, utcnow
from bot.handoff.hours import BusinessHours


def queue_position(engine: Engine, handoff_id: int) -> int:
    """1 + the number of unclaimed handoffs opened before this one in its own queue."""
    with session_factory(engine)() as session:
        queue = select(Handoff.queue).where(Handoff.id == handoff_id).scalar_subquery()
        ahead = session.execute(
            select(func.count(Handoff.id)).where(
                Handoff.status == HandoffStatus.OPEN, Handoff.id < handoff_id, Handoff.queue == queue
            )
        ).scalar_one()
    return int(ahead) + 1


def agents_available(engine: Engine) -> int:
    """Active agents (the roster of data/agents.yml; presence is not tracked)."""
    with session_factory(engine)() as session:
        return int(session.execute(select(func.count(Agent.id)).where(Agent.active.is_(True))).scalar_one())


def queue_notice(
    engine: Engine, hours: BusinessHours, handoff_id: int, now: dt.datetime | None = None
) -> tuple[str, dict[str, str]]:
    """The domain response to send and its values.

    In hours with an agent on the roster: ``utter_handoff_queued`` with the queue position.
    Otherwise: ``utter_handoff_out_of_hours`` with when the team is next in (local time and
    zone), and that the answer comes on this same channel.
    """
    moment = now or utcnow()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    if hours.is_open(moment) and agents_available(engine) > 0:
        return "utter_handoff_queued", {"position": str(queue_position(engine, handoff_id))}
    opens = hours.next_open(moment)
    when = f"{opens:%A} at {opens:%H:%M} ({opens.tzname()})"
    return "utter_handoff_out_of_hours", {"opens": when}
