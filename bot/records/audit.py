"""Audit of customer-record access: one ``RecordAccess`` row per lookup, never the contents."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.db.engine import session_factory
from bot.db.models import RecordAccess, utcnow
from bot.records.backend import RecordsBackend, RecordsUnavailable
from bot.records.model import DeviceInfo, InvoiceInfo, OrderInfo, RefundInfo, ServiceResult, SubscriptionInfo

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

FOUND = "found"
NOT_FOUND = "not_found"
UNAVAILABLE = "unavailable"


class AuditedRecords:
    """A records backend that writes who looked up what kind of record, where and with what outcome.

    A row holds the customer id, the record kind (``order``, ``orders``, ``devices``,
    ``device``, ``subscriptions``, ``invoices``, ``refund``, and the changes
    ``cancel_order``, ``start_return``, ``change_address``, ``update_contact``,
    ``marketing_opt_out``, ``account_deletion``), the channel, the outcome (``found``,
    ``not_found``, ``unavailable``; for a change ``done``, ``refused``, ``pending`` or
    ``repeated``) and the time: never an order number, serial, email, address or any content.
    ``customer_id_for_email`` is not audited (there is no customer yet).

    Access fails closed: when the audit row cannot be written, the lookup raises
    :class:`RecordsUnavailable` instead of returning unaudited data.
    """

    def __init__(self, backend: RecordsBackend, engine: Engine, channel: str) -> None:
        """Wrap ``backend``; rows go to ``engine``'s ``record_access_audit`` table, tagged ``channel``."""
        self._backend = backend
        self._engine = engine
        self._sessions = session_factory(engine)
        self.channel = channel

    def with_channel(self, channel: str) -> AuditedRecords:
        """The same backend and audit table, rows tagged with another channel."""
        return AuditedRecords(self._backend, self._engine, channel)

    async def _audited(self, customer_id: str, kind: str, call: Awaitable[_T]) -> _T:
        try:
            result = await call
        except RecordsUnavailable:
            await self._write(customer_id, kind, UNAVAILABLE)
            raise
        if isinstance(result, ServiceResult):
            # A change: done / refused / pending, or "repeated" for a replayed confirmation.
            outcome = "repeated" if result.repeated else result.outcome
        else:
            found = bool(result) if isinstance(result, list) else result is not None
            outcome = FOUND if found else NOT_FOUND
        await self._write(customer_id, kind, outcome)
        return result

    async def _write(self, customer_id: str, kind: str, outcome: str) -> None:
        await asyncio.to_thread(self._insert, customer_id, kind, outcome)

    def _insert(self, customer_id: str, kind: str, outcome: str) -> None:
        row: dict[str, Any] = {
            "customer_id": customer_id,
            "record_kind": kind,
            "channel": self.channel,
            "outcome": outcome,
            "at": utcnow(),
        }
        try:
            with self._sessions.begin() as session:
                session.add(RecordAccess(**row))
        except SQLAlchemyError:
            _LOGGER.error("records.audit_failed kind=%s outcome=%s", kind, outcome)
            raise RecordsUnavailable("the record access could not be audited") from None
        _LOGGER.info("records.access kind=%s channel=%s outcome=%s", kind, self.channel, outcome)

    async def order(self, customer_id: str, number: str) -> OrderInfo | None:
        """See :meth:`RecordsBackend.order`; audited as ``order``."""
        return await self._audited(customer_id, "order", self._backend.order(customer_id, number))

    async def recent_orders(self, customer_id: str, limit: int = 5) -> list[OrderInfo]:
        """See :meth:`RecordsBackend.recent_orders`; audited as ``orders``."""
        return await self._audited(customer_id, "orders", self._backend.recent_orders(customer_id, limit))

    async def devices(self, customer_id: str) -> list[DeviceInfo]:
        """See :meth:`RecordsBackend.devices`; audited as ``devices``."""
        return await self._audited(customer_id, "devices", self._backend.devices(customer_id))

    async def device(self, customer_id: str, serial: str) -> DeviceInfo | None:
        """See :meth:`RecordsBackend.device`; audited as ``device``."""
        return await self._audited(customer_id, "device", self._backend.device(customer_id, serial))

    async def subscriptions(self, customer_id: str) -> list[SubscriptionInfo]:
        """See :meth:`RecordsBackend.subscriptions`; audited as ``subscriptions``."""
        return await self._audited(customer_id, "subscriptions", self._backend.subscriptions(customer_id))

    async def invoices(self, customer_id: str, limit: int = 5) -> list[InvoiceInfo]:
        """See :meth:`RecordsBackend.invoices`; audited as ``invoices``."""
        return await self._audited(customer_id, "invoices", self._backend.invoices(customer_id, limit))

    async def customer_id_for_email(self, email: str) -> str | None:
        """See :meth:`RecordsBackend.customer_id_for_email`; not audited, the address is never logged."""
        return await self._backend.customer_id_for_email(email)

    async def refund(self, customer_id: str, number: str) -> RefundInfo | None:
        """See :meth:`RecordsBackend.refund`; audited as ``refund``."""
        return await self._audited(customer_id, "refund", self._backend.refund(customer_id, number))

    async def cancel_order(self, customer_id: str, number: str, key: str) -> ServiceResult:
        """See :meth:`RecordsBackend.cancel_order`; audited as ``cancel_order``."""
        return await self._audited(customer_id, "cancel_order", self._backend.cancel_order(customer_id, number, key))

    async def start_return(self, customer_id: str, number: str, reason: str, key: str) -> ServiceResult:
        """See :meth:`RecordsBackend.start_return`; audited as ``start_return``."""
        call = self._backend.start_return(customer_id, number, reason, key)
        return await self._audited(customer_id, "start_return", call)

    async def change_address(self, customer_id: str, number: str, address: str, key: str) -> ServiceResult:
        """See :meth:`RecordsBackend.change_address`; audited as ``change_address`` (never the address)."""
        call = self._backend.change_address(customer_id, number, address, key)
        return await self._audited(customer_id, "change_address", call)

    async def update_contact(self, customer_id: str, kind: str, value: str, key: str) -> ServiceResult:
        """See :meth:`RecordsBackend.update_contact`; audited as ``update_contact`` (never the value)."""
        call = self._backend.update_contact(customer_id, kind, value, key)
        return await self._audited(customer_id, "update_contact", call)

    async def marketing_opt_out(self, customer_id: str, key: str) -> ServiceResult:
        """See :meth:`RecordsBackend.marketing_opt_out`; audited as ``marketing_opt_out``."""
        return await self._audited(customer_id, "marketing_opt_out", self._backend.marketing_opt_out(customer_id, key))

    async def request_deletion(self, customer_id: str, key: str) -> ServiceResult:
        """See :meth:`RecordsBackend.request_deletion`; audited as ``account_deletion``."""
        return await self._audited(customer_id, "account_deletion", self._backend.request_deletion(customer_id, key))
