"""The records backend interface: what the bot may ask about a verified customer."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.records.model import DeviceInfo, InvoiceInfo, OrderInfo, SubscriptionInfo


class RecordsUnavailable(RuntimeError):
    """The record system is down, timed out, failed after retries, or its circuit is open.

    The message never carries customer data; the bot answers "try again later" or hands off.
    """


@runtime_checkable
class RecordsBackend(Protocol):
    """A customer-record system. Every query is filtered by the *verified* customer id.

    A record that exists but belongs to another customer is reported exactly like one that
    does not exist (``None`` or absent from a list), through the same code path.
    All methods raise :class:`RecordsUnavailable` when the system cannot answer.
    """

    async def order(self, customer_id: str, number: str) -> OrderInfo | None:
        """The customer's order ``number`` (spaces and a leading '#' ignored), or None."""
        ...

    async def recent_orders(self, customer_id: str, limit: int = 5) -> list[OrderInfo]:
        """The customer's newest orders first, at most ``limit``."""
        ...

    async def devices(self, customer_id: str) -> list[DeviceInfo]:
        """The customer's registered devices, newest purchase first."""
        ...

    async def device(self, customer_id: str, serial: str) -> DeviceInfo | None:
        """The customer's device by serial number (case-insensitive), or None."""
        ...

    async def subscriptions(self, customer_id: str) -> list[SubscriptionInfo]:
        """The customer's subscriptions (any status)."""
        ...

    async def invoices(self, customer_id: str, limit: int = 5) -> list[InvoiceInfo]:
        """The customer's newest invoices first, at most ``limit``."""
        ...

    async def customer_id_for_email(self, email: str) -> str | None:
        """The id of the customer with this email address (case-insensitive), or None."""
        ...


def normalise_order_number(number: str) -> str:
    """Strip whitespace (anywhere) and one leading '#': ``" # 100 104"`` -> ``"100104"``."""
    compact = "".join(number.split())
    return compact[1:] if compact.startswith("#") else compact


def clamp_limit(limit: int, maximum: int = 50) -> int:
    """A list limit between 1 and ``maximum``."""
    return max(1, min(int(limit), maximum))
