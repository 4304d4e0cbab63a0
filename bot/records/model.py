"""What the bot may tell a verified customer about their own records: nothing more.

These frozen dataclasses are the shapes every records backend returns and the reference
REST API serves (``to_dict()`` is the JSON body; ``from_dict()`` reads it back).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)) if value not in (None, "") else None


def _required_date(value: Any) -> dt.date:
    parsed = _parse_date(value)
    if parsed is None:
        raise ValueError("a required date is missing")
    return parsed


@dataclass(frozen=True)
class OrderLine:
    """One line of an order: which product and how many."""

    sku: str
    name: str
    quantity: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"sku": self.sku, "name": self.name, "quantity": self.quantity}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderLine:
        """Read the form written by :meth:`to_dict`."""
        return cls(sku=str(data["sku"]), name=str(data["name"]), quantity=int(data["quantity"]))


@dataclass(frozen=True)
class OrderInfo:
    """An order's status, shipping and contents."""

    number: str
    status: str
    placed_at: dt.date
    total_cents: int
    currency: str
    carrier: str | None
    tracking_number: str | None
    shipped_at: dt.date | None
    delivered_at: dt.date | None
    lines: tuple[OrderLine, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (dates as ISO strings)."""
        return {
            "number": self.number,
            "status": self.status,
            "placed_at": self.placed_at.isoformat(),
            "total_cents": self.total_cents,
            "currency": self.currency,
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "shipped_at": _date(self.shipped_at),
            "delivered_at": _date(self.delivered_at),
            "lines": [line.to_dict() for line in self.lines],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderInfo:
        """Read the form written by :meth:`to_dict`."""
        return cls(
            number=str(data["number"]),
            status=str(data["status"]),
            placed_at=_required_date(data["placed_at"]),
            total_cents=int(data["total_cents"]),
            currency=str(data["currency"]),
            carrier=data.get("carrier"),
            tracking_number=data.get("tracking_number"),
            shipped_at=_parse_date(data.get("shipped_at")),
            delivered_at=_parse_date(data.get("delivered_at")),
            lines=tuple(OrderLine.from_dict(line) for line in data.get("lines", [])),
        )


@dataclass(frozen=True)
class DeviceInfo:
    """A registered device and its warranty."""

    serial: str
    sku: str
    product_name: str
    purchased_on: dt.date
    warranty_until: dt.date

    def in_warranty(self, today: dt.date) -> bool:
        """Whether the warranty still covers ``today`` (the last day included)."""
        return today <= self.warranty_until

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (dates as ISO strings)."""
        return {
            "serial": self.serial,
            "sku": self.sku,
            "product_name": self.product_name,
            "purchased_on": self.purchased_on.isoformat(),
            "warranty_until": self.warranty_until.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceInfo:
        """Read the form written by :meth:`to_dict`."""
        return cls(
            serial=str(data["serial"]),
            sku=str(data["sku"]),
            product_name=str(data["product_name"]),
            purchased_on=_required_date(data["purchased_on"]),
            warranty_until=_required_date(data["warranty_until"]),
        )


@dataclass(frozen=True)
class SubscriptionInfo:
    """A subscription's plan, status and next bill."""

    id: str
    plan_sku: str
    plan_name: str
    status: str
    next_bill_on: dt.date | None
    price_cents: int
    currency: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (dates as ISO strings)."""
        return {
            "id": self.id,
            "plan_sku": self.plan_sku,
            "plan_name": self.plan_name,
            "status": self.status,
            "next_bill_on": _date(self.next_bill_on),
            "price_cents": self.price_cents,
            "currency": self.currency,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubscriptionInfo:
        """Read the form written by :meth:`to_dict`."""
        return cls(
            id=str(data["id"]),
            plan_sku=str(data["plan_sku"]),
            plan_name=str(data["plan_name"]),
            status=str(data["status"]),
            next_bill_on=_parse_date(data.get("next_bill_on")),
            price_cents=int(data["price_cents"]),
            currency=str(data["currency"]),
        )


@dataclass(frozen=True)
class InvoiceInfo:
    """An invoice's amount, dates and payment status."""

    number: str
    issued_on: dt.date
    due_on: dt.date
    amount_cents: int
    currency: str
    status: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (dates as ISO strings)."""
        return {
            "number": self.number,
            "issued_on": self.issued_on.isoformat(),
            "due_on": self.due_on.isoformat(),
            "amount_cents": self.amount_cents,
            "currency": self.currency,
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InvoiceInfo:
        """Read the form written by :meth:`to_dict`."""
        return cls(
            number=str(data["number"]),
            issued_on=_required_date(data["issued_on"]),
            due_on=_required_date(data["due_on"]),
            amount_cents=int(data["amount_cents"]),
            currency=str(data["currency"]),
            status=str(data["status"]),
        )
