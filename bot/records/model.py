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


@dataclass(frozen=True)
class RefundInfo:
    """Money going back for a cancelled order or a return.

    ``status``: ``awaiting_return`` (a return was started; the refund follows once the parcel
    is processed), ``pending`` (sent to the payment provider, expected by ``expected_by``) or
    ``issued`` (paid back on ``issued_on``).
    """

    order_number: str
    status: str
    amount_cents: int
    currency: str
    method: str
    expected_by: dt.date | None
    issued_on: dt.date | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (dates as ISO strings)."""
        return {
            "order_number": self.order_number,
            "status": self.status,
            "amount_cents": self.amount_cents,
            "currency": self.currency,
            "method": self.method,
            "expected_by": _date(self.expected_by),
            "issued_on": _date(self.issued_on),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RefundInfo:
        """Read the form written by :meth:`to_dict`."""
        return cls(
            order_number=str(data["order_number"]),
            status=str(data["status"]),
            amount_cents=int(data["amount_cents"]),
            currency=str(data["currency"]),
            method=str(data["method"]),
            expected_by=_parse_date(data.get("expected_by")),
            issued_on=_parse_date(data.get("issued_on")),
        )


#: What a self-service change can be asked for.
SERVICE_KINDS = (
    "cancel_order",
    "start_return",
    "change_address",
    "update_contact",
    "marketing_opt_out",
    "account_deletion",
)


@dataclass(frozen=True)
class ServiceResult:
    """The outcome of a self-service change, as the customer may be told.

    Attributes:
        kind: One of :data:`SERVICE_KINDS`.
        outcome: ``done``, ``refused`` (``reason`` says why; nothing changed) or ``pending``
            (accepted, completed later by a person: account deletion).
        reason: Why it was refused (``not_found``, ``shipped``, ``not_shipped``,
            ``not_delivered``, ``outside_window``, ``not_returnable``, ``already_cancelled``,
            ``returned``, ``return_open``, ``invalid_address``, ``invalid_value``,
            ``in_use``), or ``unchanged`` for a ``done`` that was already so.
        repeated: This is the stored outcome of an earlier request with the same
            idempotency key: nothing was changed this time.
        order_number: The order concerned, if any.
        reference: The RMA number of a return, or the number of a request.
        refund: The refund a cancellation or return leads to.
        label_url: Where to print the return label.
        deadline: The last day of the return window (``start_return``).
    """

    kind: str
    outcome: str
    reason: str | None = None
    repeated: bool = False
    order_number: str | None = None
    reference: str | None = None
    refund: RefundInfo | None = None
    label_url: str | None = None
    deadline: dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (dates as ISO strings)."""
        return {
            "kind": self.kind,
            "outcome": self.outcome,
            "reason": self.reason,
            "repeated": self.repeated,
            "order_number": self.order_number,
            "reference": self.reference,
            "refund": self.refund.to_dict() if self.refund is not None else None,
            "label_url": self.label_url,
            "deadline": _date(self.deadline),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceResult:
        """Read the form written by :meth:`to_dict`."""
        kind, outcome = str(data["kind"]), str(data["outcome"])
        if kind not in SERVICE_KINDS or outcome not in ("done", "refused", "pending"):
            raise ValueError("unknown kind or outcome")
        refund = data.get("refund")
        return cls(
            kind=kind,
            outcome=outcome,
            reason=data.get("reason"),
            repeated=bool(data.get("repeated", False)),
            order_number=data.get("order_number"),
            reference=data.get("reference"),
            refund=RefundInfo.from_dict(refund) if isinstance(refund, dict) else None,
            label_url=data.get("label_url"),
            deadline=_parse_date(data.get("deadline")),
        )
