"""Customer records straight from the project database (the demo company, or a replica)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from bot.db.engine import session_factory
from bot.db.models import (
    Customer,
    Device,
    Invoice,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    Refund,
    ReturnRequest,
    ServiceRequest,
    Subscription,
    utcnow,
)
from bot.records.backend import (
    RecordsUnavailable,
    check_address,
    check_contact,
    clamp_limit,
    normalise_order_number,
)
from bot.records.model import (
    DeviceInfo,
    InvoiceInfo,
    OrderInfo,
    OrderLine,
    RefundInfo,
    ServiceResult,
    SubscriptionInfo,
)
from bot.records.policy import Policy, add_working_days, load_policy
from bot.settings import PROJECT_ROOT

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")


class SqlRecords:
    """A :class:`~bot.records.backend.RecordsBackend` on SQLAlchemy; queries run off the event loop.

    Every query carries ``customer_id = :verified`` in its WHERE clause, so another customer's
    record is simply not found: no second query, no different timing.
    """

    def __init__(
        self,
        engine: Engine,
        policy: Policy | None = None,
        today: Callable[[], dt.date] = dt.date.today,
        *,
        data_dir: Path = PROJECT_ROOT / "data",
    ) -> None:
        """Read and change records through ``engine`` (SQLite or PostgreSQL, migrated schema).

        Args:
            engine: The database.
            policy: The self-service rules (default: ``records/policy.yml`` of ``data_dir``).
            today: Today's date (return windows, refund dates).
            data_dir: Where the default policy is read from.
        """
        self._sessions = session_factory(engine)
        self.policy = policy if policy is not None else load_policy(data_dir)
        self._today = today

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

    # -- self-service changes ------------------------------------------------------------------

    async def refund(self, customer_id: str, number: str) -> RefundInfo | None:
        """The refund of the customer's order (status ``none`` when there is none), or None for no such order."""
        wanted = normalise_order_number(number)

        def query(session: Session) -> RefundInfo | None:
            order = _own_order(session, customer_id, wanted)
            return self._refund_of(session, order) if order is not None else None

        return await self._run("refund", query)

    async def cancel_order(self, customer_id: str, number: str, key: str) -> ServiceResult:
        """Cancel an order that has not shipped; the whole amount is refunded to the payment method."""
        wanted = normalise_order_number(number)

        def change(session: Session) -> ServiceResult:
            order = _own_order(session, customer_id, wanted, lock=True)
            if order is None:
                return ServiceResult("cancel_order", "refused", "not_found", order_number=wanted)
            status = _status(order)
            if status != "processing":
                reason = {"cancelled": "already_cancelled", "returned": "returned"}.get(status, "shipped")
                refund = self._refund_of(session, order) if status == "cancelled" else None
                return ServiceResult("cancel_order", "refused", reason, order_number=wanted, refund=refund)
            today = self._today()
            order.status = OrderStatus.CANCELLED
            order.status_changed_at = utcnow()
            method = order.payment_method or "card"
            refund = Refund(
                order_number=order.number,
                customer_id=customer_id,
                amount_cents=order.total_cents,
                currency=order.currency,
                method=method,
                status="pending",
                expected_by=add_working_days(today, self.policy.refund_time(method).days),
            )
            session.add(refund)
            return ServiceResult("cancel_order", "done", order_number=wanted, refund=_refund_info(refund))

        return await self._change("cancel_order", customer_id, key, wanted, change)

    async def start_return(self, customer_id: str, number: str, reason: str, key: str) -> ServiceResult:
        """Start a return of a delivered order's returnable items inside the return window."""
        wanted = normalise_order_number(number)
        reason_code = reason if reason in self.policy.return_reasons else "other"

        def change(session: Session) -> ServiceResult:
            order = _own_order(session, customer_id, wanted, lock=True)
            if order is None:
                return ServiceResult("start_return", "refused", "not_found", order_number=wanted)
            status = _status(order)
            refused = {
                "processing": "not_shipped",
                "shipped": "not_delivered",
                "cancelled": "already_cancelled",
                "returned": "returned",
            }
            if status in refused:
                return ServiceResult("start_return", "refused", refused[status], order_number=wanted)
            open_return = _open_return(session, order.number)
            if open_return is not None:
                return ServiceResult(
                    "start_return",
                    "refused",
                    "return_open",
                    order_number=wanted,
                    reference=open_return.rma,
                    label_url=self.policy.label_url(open_return.rma),
                )
            delivered = (order.delivered_at or order.status_changed_at or order.placed_at).date()
            deadline = self.policy.return_deadline(delivered)
            if self._today() > deadline:
                return ServiceResult(
                    "start_return", "refused", "outside_window", order_number=wanted, deadline=deadline
                )
            lines = session.execute(
                select(OrderItem, Product.is_subscription)
                .join(Product, Product.sku == OrderItem.sku)
                .where(OrderItem.order_number == order.number)
            ).all()
            value = sum(item.unit_price_cents * item.quantity for item, sub in lines if item.returnable and not sub)
            if value == 0:
                return ServiceResult("start_return", "refused", "not_returnable", order_number=wanted)
            country = session.execute(select(Customer.country).where(Customer.id == customer_id)).scalar_one_or_none()
            amount = max(value - self.policy.return_fee_cents(country, reason_code), 0)
            rma = "R" + "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
            session.add(
                ReturnRequest(
                    rma=rma,
                    order_number=order.number,
                    customer_id=customer_id,
                    reason=reason_code,
                    status="awaiting_parcel",
                    refund_cents=amount,
                    currency=order.currency,
                )
            )
            refund = RefundInfo(order.number, "awaiting_return", amount, order.currency, _method(order), None, None)
            return ServiceResult(
                "start_return",
                "done",
                order_number=wanted,
                reference=rma,
                refund=refund,
                label_url=self.policy.label_url(rma),
                deadline=deadline,
            )

        return await self._change("start_return", customer_id, key, wanted, change)

    async def change_address(self, customer_id: str, number: str, address: str, key: str) -> ServiceResult:
        """Change the delivery address of an order that has not shipped."""
        wanted = normalise_order_number(number)
        cleaned = check_address(address)

        def change(session: Session) -> ServiceResult:
            order = _own_order(session, customer_id, wanted, lock=True)
            if order is None:
                return ServiceResult("change_address", "refused", "not_found", order_number=wanted)
            status = _status(order)
            if status != "processing":
                reason = {"cancelled": "already_cancelled", "returned": "returned"}.get(status, "shipped")
                return ServiceResult("change_address", "refused", reason, order_number=wanted)
            if cleaned is None:
                return ServiceResult("change_address", "refused", "invalid_address", order_number=wanted)
            if order.shipping_address == cleaned:
                return ServiceResult("change_address", "done", "unchanged", order_number=wanted)
            order.shipping_address = cleaned
            return ServiceResult("change_address", "done", order_number=wanted)

        return await self._change("change_address", customer_id, key, wanted, change)

    async def update_contact(self, customer_id: str, kind: str, value: str, key: str) -> ServiceResult:
        """Set the account's email address or phone number (the caller verified it by a code)."""
        cleaned = check_contact(kind, value)

        def change(session: Session) -> ServiceResult:
            customer = session.get(Customer, customer_id, with_for_update=True)
            if customer is None:
                return ServiceResult("update_contact", "refused", "not_found")
            if cleaned is None:
                return ServiceResult("update_contact", "refused", "invalid_value")
            if kind == "email":
                if customer.email.lower() == cleaned.lower():
                    return ServiceResult("update_contact", "done", "unchanged")
                taken = session.execute(
                    select(Customer.id).where(func.lower(Customer.email) == cleaned.lower(), Customer.id != customer_id)
                ).first()
                if taken is not None:
                    return ServiceResult("update_contact", "refused", "in_use")
                customer.email = cleaned
            else:
                if customer.phone == cleaned:
                    return ServiceResult("update_contact", "done", "unchanged")
                customer.phone = cleaned
            return ServiceResult("update_contact", "done")

        return await self._change("update_contact", customer_id, key, None, change)

    async def marketing_opt_out(self, customer_id: str, key: str) -> ServiceResult:
        """Stop marketing emails and SMS to the customer (service messages still go)."""

        def change(session: Session) -> ServiceResult:
            customer = session.get(Customer, customer_id, with_for_update=True)
            if customer is None:
                return ServiceResult("marketing_opt_out", "refused", "not_found")
            if not customer.marketing_opt_in:
                return ServiceResult("marketing_opt_out", "done", "unchanged")
            customer.marketing_opt_in = False
            return ServiceResult("marketing_opt_out", "done")

        return await self._change("marketing_opt_out", customer_id, key, None, change)

    async def request_deletion(self, customer_id: str, key: str) -> ServiceResult:
        """Record an account deletion request for the privacy team (one open request per customer)."""

        def change(session: Session) -> ServiceResult:
            if session.get(Customer, customer_id) is None:
                return ServiceResult("account_deletion", "refused", "not_found")
            open_request = session.execute(
                select(ServiceRequest.reference).where(
                    ServiceRequest.customer_id == customer_id,
                    ServiceRequest.kind == "account_deletion",
                    ServiceRequest.outcome == "pending",
                )
            ).first()
            if open_request is not None:
                return ServiceResult("account_deletion", "pending", "unchanged", reference=open_request[0])
            reference = "P" + "".join(secrets.choice("0123456789") for _ in range(8))
            return ServiceResult("account_deletion", "pending", reference=reference)

        return await self._change("account_deletion", customer_id, key, None, change)

    async def _change(
        self,
        kind: str,
        customer_id: str,
        key: str,
        order_number: str | None,
        change: Callable[[Session], ServiceResult],
    ) -> ServiceResult:
        if not _KEY.match(key):
            raise ValueError("the idempotency key must be 8 to 64 letters, digits, '-' or '_'")
        return await asyncio.to_thread(self._change_once, kind, customer_id, key, order_number, change)

    def _change_once(
        self,
        kind: str,
        customer_id: str,
        key: str,
        order_number: str | None,
        change: Callable[[Session], ServiceResult],
    ) -> ServiceResult:
        """Apply ``change`` and record it under ``key`` in one transaction; a known key replays its outcome."""
        try:
            with self._sessions.begin() as session:
                earlier = _earlier(session, customer_id, key)
                if earlier is not None:
                    return earlier
                result = change(session)
                now = utcnow()
                session.add(
                    ServiceRequest(
                        customer_id=customer_id,
                        idempotency_key=key,
                        kind=kind,
                        order_number=order_number,
                        outcome=result.outcome,
                        reference=result.reference,
                        result=result.to_dict(),
                        created_at=now,
                        completed_at=now if result.outcome == "done" else None,
                    )
                )
            _LOGGER.info("records.change kind=%s outcome=%s reason=%s", kind, result.outcome, result.reason)
            return result
        except IntegrityError:
            # The same key confirmed twice at once: the other transaction won; tell its outcome.
            with self._sessions() as session:
                earlier = _earlier(session, customer_id, key)
            if earlier is None:
                raise
            return earlier
        except (OperationalError, InterfaceError) as exc:
            _LOGGER.warning("records.sql_unavailable kind=%s error=%s", kind, type(exc.orig).__name__)
            raise RecordsUnavailable("the records database is unavailable") from None

    def _refund_of(self, session: Session, order: Order) -> RefundInfo:
        row = session.execute(
            select(Refund).where(Refund.order_number == order.number).order_by(Refund.id.desc()).limit(1)
        ).scalar_one_or_none()
        if row is not None:
            return _refund_info(row)
        open_return = _open_return(session, order.number)
        if open_return is not None:
            return RefundInfo(
                order.number, "awaiting_return", open_return.refund_cents, order.currency, _method(order), None, None
            )
        status = _status(order)
        if status not in ("returned", "cancelled"):
            return RefundInfo(order.number, "none", 0, order.currency, _method(order), None, None)
        # An order returned or cancelled before refunds were recorded here: paid back as the policy says.
        changed = (order.status_changed_at or order.placed_at).date()
        sent = changed if status == "cancelled" else add_working_days(changed, self.policy.return_processing_days)
        expected = add_working_days(sent, self.policy.refund_time(order.payment_method).days)
        issued = sent <= self._today()
        return RefundInfo(
            order.number,
            "issued" if issued else "pending",
            order.total_cents,
            order.currency,
            _method(order),
            expected,
            sent if issued else None,
        )


_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _status(order: Order) -> str:
    return order.status.value if isinstance(order.status, OrderStatus) else str(order.status)


def _method(order: Order) -> str:
    return str(order.payment_method or "card")


def _own_order(session: Session, customer_id: str, number: str, *, lock: bool = False) -> Order | None:
    query = select(Order).where(Order.customer_id == customer_id, Order.number == number)
    if lock:
        query = query.with_for_update()
    row: Order | None = session.execute(query).scalar_one_or_none()
    return row


def _open_return(session: Session, number: str) -> ReturnRequest | None:
    row: ReturnRequest | None = session.execute(
        select(ReturnRequest)
        .where(ReturnRequest.order_number == number, ReturnRequest.status != "refunded")
        .order_by(ReturnRequest.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return row


def _earlier(session: Session, customer_id: str, key: str) -> ServiceResult | None:
    row = session.execute(
        select(ServiceRequest.result).where(
            ServiceRequest.customer_id == customer_id, ServiceRequest.idempotency_key == key
        )
    ).first()
    if row is None:
        return None
    return ServiceResult.from_dict({**row[0], "repeated": True})


def _refund_info(row: Refund) -> RefundInfo:
    return RefundInfo(
        order_number=row.order_number,
        status="issued" if row.issued_on is not None else str(row.status),
        amount_cents=row.amount_cents,
        currency=row.currency,
        method=row.method,
        expected_by=row.expected_by,
        issued_on=row.issued_on,
    )


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
