"""The records backend interface: what the bot may ask about a verified customer."""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from bot.records.model import DeviceInfo, InvoiceInfo, OrderInfo, RefundInfo, ServiceResult, SubscriptionInfo


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

    # Self-service changes. Each takes an idempotency ``key`` (8-64 of A-Z a-z 0-9 - _), made
    # once per request the customer confirms: the first call with a key changes the records and
    # stores the outcome; every later call with the same key returns that stored outcome with
    # ``repeated=True`` and changes nothing. A refusal changes nothing and says why.

    async def refund(self, customer_id: str, number: str) -> RefundInfo | None:
        """The refund of the customer's order (status ``none`` if it has none), or None for no such order."""
        ...

    async def cancel_order(self, customer_id: str, number: str, key: str) -> ServiceResult:
        """Cancel an order that has not shipped; the refund (whole amount) is in the result."""
        ...

    async def start_return(self, customer_id: str, number: str, reason: str, key: str) -> ServiceResult:
        """Start a return of a delivered order inside the return window: RMA, label link, refund."""
        ...

    async def change_address(self, customer_id: str, number: str, address: str, key: str) -> ServiceResult:
        """Change the delivery address of an order that has not shipped."""
        ...

    async def update_contact(self, customer_id: str, kind: str, value: str, key: str) -> ServiceResult:
        """Set the account's ``email`` or ``phone`` (already verified by a code sent to it)."""
        ...

    async def marketing_opt_out(self, customer_id: str, key: str) -> ServiceResult:
        """Stop marketing emails and SMS."""
        ...

    async def request_deletion(self, customer_id: str, key: str) -> ServiceResult:
        """Ask for the account to be deleted (outcome ``pending``: the privacy team completes it)."""
        ...


def normalise_order_number(number: str) -> str:
    """Strip whitespace (anywhere) and one leading '#': ``" # 100 104"`` -> ``"100104"``."""
    compact = "".join(number.split())
    return compact[1:] if compact.startswith("#") else compact


def clamp_limit(limit: int, maximum: int = 50) -> int:
    """A list limit between 1 and ``maximum``."""
    return max(1, min(int(limit), maximum))


_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ()/.-]{6,24}$")


def check_contact(kind: str, value: str) -> str | None:
    """A contact value cleaned up (email: trimmed; phone: digits with one leading '+'), or None if invalid."""
    text = value.strip()
    if kind == "email":
        return text if len(text) <= 320 and _EMAIL.match(text) else None
    if kind == "phone":
        if not _PHONE_CHARS.match(text):
            return None
        digits = "".join(ch for ch in text if ch.isdigit())
        if not 7 <= len(digits) <= 15:
            return None
        return ("+" if text.startswith("+") else "") + digits
    return None


def check_address(value: str) -> str | None:
    """A delivery address cleaned up (lines joined with ", "), or None if it lacks a street and a postcode.

    Accepted: 10-300 characters with at least two parts (street, postcode and town) and a
    number (house number or postcode), e.g. "Lindenstraße 12, 10969 Berlin".
    """
    parts = [part.strip() for part in re.split(r"[\n,;]+", value) if part.strip()]
    cleaned = ", ".join(parts)
    if not 10 <= len(cleaned) <= 300 or len(parts) < 2 or not re.search(r"\d", cleaned):
        return None
    return cleaned
