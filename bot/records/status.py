"""Order status changes the company's systems report (shipped, delivered, a refund issued).

The warehouse, the carrier's tracking feed or the payment system tells the bot that an order
moved on (``POST /api/v1/orders/{number}/status``, ``python -m bot orders status``). Each change
is one conditional ``UPDATE`` (the order must be in a state it may leave), so two reports of one
change at once change the order once, and a report of a change already made is a repeat that
changes nothing. Nothing here is filtered by a verified customer: the caller is the company's
system, not a customer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.db.engine import session_factory
from bot.db.models import Order, OrderStatus, Refund, utcnow
from bot.records.backend import normalise_order_number

#: The changes that can be reported, in the order an order goes through them.
ORDER_EVENTS = ("shipped", "delivered", "refund_issued")
#: Longest carrier name and tracking number kept (the columns' sizes).
MAX_CARRIER = 40
MAX_TRACKING = 60


class StatusRefused(Exception):
    """The change cannot be made: ``unknown_order``, or ``impossible`` from the order's ``current`` state."""

    def __init__(self, reason: str, current: str | None = None) -> None:
        """Keep why (``unknown_order``, ``impossible``) and the order's current status."""
        super().__init__(reason)
        self.reason = reason
        self.current = current


@dataclass(frozen=True)
class StatusChange:
    """What a report did to an order.

    Attributes:
        order_number: The order (normalised).
        customer_id: Whose order it is.
        event: ``shipped``, ``delivered`` or ``refund_issued``.
        changed: ``False`` when the order had that status already (a repeated report).
        carrier: The carrier and tracking number the order has now (either may be unknown).
        tracking_number: See ``carrier``.
        refund_cents: With ``refund_issued``: the amount paid back.
        currency: The order's currency.
    """

    order_number: str
    customer_id: str
    event: str
    changed: bool
    carrier: str | None = None
    tracking_number: str | None = None
    refund_cents: int | None = None
    currency: str = "EUR"


class OrderStatusUpdates:
    """Applies reported status changes to the project database's orders and refunds (off the event loop)."""

    def __init__(self, engine: Engine, today: Callable[[], dt.date] = dt.date.today) -> None:
        """Change orders in ``engine``'s database; ``today`` dates an issued refund."""
        self._sessions = session_factory(engine)
        self._today = today

    async def apply(
        self,
        number: str,
        event: str,
        *,
        carrier: str | None = None,
        tracking_number: str | None = None,
        now: dt.datetime | None = None,
    ) -> StatusChange:
        """Record that order ``number`` was shipped, delivered, or had its refund issued.

        ``shipped`` leaves ``processing`` (and keeps the ``carrier`` and ``tracking_number`` given);
        ``delivered`` leaves ``processing`` or ``shipped``; ``refund_issued`` issues the order's
        pending refund. ``now`` is naive UTC (default: the clock).

        Raises:
            ValueError: ``event`` is not one of :data:`ORDER_EVENTS`.
            StatusRefused: no such order, or the order cannot take this change (cancelled, returned,
                already further along, no refund to issue).
        """
        if event not in ORDER_EVENTS:
            raise ValueError(f"unknown order event {event!r}")
        wanted = normalise_order_number(number)
        moment = now or utcnow()
        carrier = (carrier or "").strip()[:MAX_CARRIER] or None
        tracking_number = (tracking_number or "").strip()[:MAX_TRACKING] or None
        return await asyncio.to_thread(self._apply, wanted, event, carrier, tracking_number, moment)

    def _apply(
        self, number: str, event: str, carrier: str | None, tracking: str | None, now: dt.datetime
    ) -> StatusChange:
        with self._sessions.begin() as session:
            if event == "refund_issued":
                changed = self._issue_refund(session, number)
            else:
                changed = self._move(session, number, event, carrier, tracking, now)
            order = session.get(Order, number)
            if order is None:
                raise StatusRefused("unknown_order")
            status = order.status.value if isinstance(order.status, OrderStatus) else str(order.status)
            refund_cents = None
            if event == "refund_issued":
                refund_cents = session.execute(
                    select(func.sum(Refund.amount_cents)).where(
                        Refund.order_number == number, Refund.status == "issued"
                    )
                ).scalar()
                if refund_cents is None:  # nothing issued, nothing pending: no refund to report
                    raise StatusRefused("impossible", status)
            elif not changed and status != event:
                raise StatusRefused("impossible", status)
            return StatusChange(
                order_number=number,
                customer_id=str(order.customer_id),
                event=event,
                changed=changed,
                carrier=order.carrier,
                tracking_number=order.tracking_number,
                refund_cents=int(refund_cents) if refund_cents is not None else None,
                currency=str(order.currency or "EUR"),
            )

    @staticmethod
    def _move(
        session: Session, number: str, event: str, carrier: str | None, tracking: str | None, now: dt.datetime
    ) -> bool:
        """Move the order to ``shipped`` or ``delivered`` if it may go there; whether it moved."""
        values: dict[str, object] = {"status_changed_at": now}
        if event == "shipped":
            sources = [OrderStatus.PROCESSING]
            values.update(status=OrderStatus.SHIPPED, shipped_at=now)
            if carrier is not None:
                values["carrier"] = carrier
            if tracking is not None:
                values["tracking_number"] = tracking
        else:
            sources = [OrderStatus.PROCESSING, OrderStatus.SHIPPED]
            values.update(
                status=OrderStatus.DELIVERED, delivered_at=now, shipped_at=func.coalesce(Order.shipped_at, now)
            )
        result = session.execute(
            update(Order)
            .where(Order.number == number, Order.status.in_(sources))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)

    def _issue_refund(self, session: Session, number: str) -> bool:
        """Issue the order's pending refunds; whether any was pending."""
        result = session.execute(
            update(Refund)
            .where(Refund.order_number == number, Refund.status != "issued")
            .values(status="issued", issued_on=self._today())
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount >= 1)
