"""Customer records straight from the project database (the demo company, or a replica)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from bot.db.engine import session_factory
from bot.db.models import Customer, Device, Invoice, Order, OrderItem, OrderStatus, Product, Subscription
from bot.records.backend import RecordsUnavailable, clamp_limit, normalise_order_number
from bot.records.model import DeviceInfo, InvoiceInfo, OrderInfo, OrderLine, SubscriptionInfo

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")


class SqlRecords:
    """A :class:`~bot.records.backend.RecordsBackend` on SQLAlchemy; queries run off the event loop.

    Every query carries ``customer_id = :verified`` in its WHERE clause, so another customer's
    record is simply not found: no second query, no different timing.
    """

    def __init__(self, engine: Engine) -> None:
        """Read records through ``engine`` (SQLite or PostgreSQL, migrated schema)."""
        self._sessions = session_factory(engine)

    async def _run(self, kind: str, query: Callable[[Session], _T]) -> _T:
        return await asyncio.to_thread(self._in_session, kind, query)

    def _in_session(self, kind: str, query: Callable[[Session], _T]) -> _T:
        try:
            with self._sessions() as session:
                return query(session)
        except (OperationalError, InterfaceError) as exc:
            _LOGGER.warning("records.sql_unavailable kind=%s error=%s", kind, type(exc.orig).__name__)
            raise RecordsUnavailable("the records database is unavailable") from None

    async def order(self, customer_id: str, number: str) -> OrderInfo | None:
        """The customer's order ``number``, or None (unknown and someone else's alike)."""
        wanted = normalise_order_number(number)

        def query(session: Session) -> OrderInfo | None:
            row = session.execute(
                select(Order).where(Order.customer_id == customer_id, Order.number == wanted)
            ).scalar_one_or_none()
            return _orders_info(session, [row])[0] if row is not None else None

        return await self._run("order", query)

    async def recent_orders(self, customer_id: str, limit: int = 5) -> list[OrderInfo]:
        """The customer's newest orders first."""
        count = clamp_limit(limit)

        def query(session: Session) -> list[OrderInfo]:
            rows = (
                session.execute(
                    select(Order)
                    .where(Order.customer_id == customer_id)
                    .order_by(Order.placed_at.desc(), Order.number.desc())
                    .limit(count)
                )
                .scalars()
                .all()
            )
            return _orders_info(session, list(rows))

        return await self._run("orders", query)

    async def devices(self, customer_id: str) -> list[DeviceInfo]:
        """The customer's devices, newest purchase first."""

        def query(session: Session) -> list[DeviceInfo]:
            rows = session.execute(
                _device_select()
                .where(Device.customer_id == customer_id)
                .order_by(Device.purchased_on.desc(), Device.serial)
            ).all()
            return [_device_info(row) for row in rows]

        return await self._run("devices", query)

    async def device(self, customer_id: str, serial: str) -> DeviceInfo | None:
        """The customer's device by serial (case-insensitive), or None."""
        wanted = serial.strip().upper()

        def query(session: Session) -> DeviceInfo | None:
            row = session.execute(
                _device_select().where(Device.customer_id == customer_id, func.upper(Device.serial) == wanted)
            ).first()
            return _device_info(row) if row is not None else None

        return await self._run("device", query)

    async def subscriptions(self, customer_id: str) -> list[SubscriptionInfo]:
        """The customer's subscriptions, by id."""

        def query(session: Session) -> list[SubscriptionInfo]:
            rows = session.execute(
                select(Subscription, Product.name)
                .join(Product, Product.sku == Subscription.plan_sku)
                .where(Subscription.customer_id == customer_id)
                .order_by(Subscription.id)
            ).all()
            return [
                SubscriptionInfo(
                    id=sub.id,
                    plan_sku=sub.plan_sku,
                    plan_name=name,
                    status=sub.status,
                    next_bill_on=sub.next_bill_on,
                    price_cents=sub.price_cents,
                    currency=sub.currency,
                )
                for sub, name in rows
            ]

        return await self._run("subscriptions", query)

    async def invoices(self, customer_id: str, limit: int = 5) -> list[InvoiceInfo]:
        """The customer's newest invoices first."""
        count = clamp_limit(limit)

        def query(session: Session) -> list[InvoiceInfo]:
            rows = (
                session.execute(
                    select(Invoice)
                    .where(Invoice.customer_id == customer_id)
                    .order_by(Invoice.issued_on.desc(), Invoice.number.desc())
                    .limit(count)
                )
                .scalars()
                .all()
            )
            return [
                InvoiceInfo(
                    number=row.number,
                    issued_on=row.issued_on,
                    due_on=row.due_on,
                    amount_cents=row.amount_cents,
                    currency=row.currency,
                    status=row.status,
                )
                for row in rows
            ]

        return await self._run("invoices", query)

    async def customer_id_for_email(self, email: str) -> str | None:
        """The customer id for ``email`` (case-insensitive, surrounding spaces ignored), or None."""
        wanted = email.strip().lower()

        def query(session: Session) -> str | None:
            if not wanted:
                return None
            found = session.execute(select(Customer.id).where(func.lower(Customer.email) == wanted)).first()
            return str(found[0]) if found is not None else None

        return await self._run("customer", query)


def _device_select() -> Any:
    return select(Device, Product.name).join(Product, Product.sku == Device.sku)


def _device_info(row: Any) -> DeviceInfo:
    device, name = row
    return DeviceInfo(
        serial=device.serial,
        sku=device.sku,
        product_name=name,
        purchased_on=device.purchased_on,
        warranty_until=device.warranty_until,
    )


def _orders_info(session: Session, orders: list[Order]) -> list[OrderInfo]:
    """Orders with their lines (one query for all lines)."""
    if not orders:
        return []
    numbers = [order.number for order in orders]
    lines: dict[str, list[OrderLine]] = {number: [] for number in numbers}
    for item, name in session.execute(
        select(OrderItem, Product.name)
        .join(Product, Product.sku == OrderItem.sku)
        .where(OrderItem.order_number.in_(numbers))
        .order_by(OrderItem.order_number, OrderItem.id)
    ).all():
        lines[item.order_number].append(OrderLine(sku=item.sku, name=name, quantity=item.quantity))
    return [
        OrderInfo(
            number=order.number,
            status=order.status.value if isinstance(order.status, OrderStatus) else str(order.status),
            placed_at=order.placed_at.date(),
            total_cents=order.total_cents,
            currency=order.currency,
            carrier=order.carrier,
            tracking_number=order.tracking_number,
            shipped_at=order.shipped_at.date() if order.shipped_at is not None else None,
            delivered_at=order.delivered_at.date() if order.delivered_at is not None else None,
            lines=tuple(lines[order.number]),
        )
        for order in orders
    ]
