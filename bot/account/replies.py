"""Turn record data into the values of the domain's ``utter_*`` responses.

Every sentence lives in ``domain.yml``; this module only picks the response and fills its
``{placeholders}`` (dates, money, list lines). No I/O and no Rasa, so it is unit-tested
directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.records.model import DeviceInfo, InvoiceInfo, OrderInfo, SubscriptionInfo

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
STATUS_RESPONSES = {
    "processing": "utter_order_processing",
    "shipped": "utter_order_shipped",
    "delivered": "utter_order_delivered",
    "returned": "utter_order_returned",
    "cancelled": "utter_order_cancelled",
}


@dataclass(frozen=True)
class Utterance:
    """A domain response to send and the values of its placeholders."""

    response: str
    values: dict[str, str] = field(default_factory=dict)


def money(cents: int, currency: str) -> str:
    """Format ``1999, "EUR"`` as ``€19.99``."""
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    amount = f"{cents / 100:,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency.upper()}"


def day(value: dt.date | None) -> str:
    """Format a date like ``3 Nov 2026`` (``-`` when unknown)."""
    return f"{value.day} {value:%b %Y}" if value else "-"


def _items(order: OrderInfo) -> str:
    return ", ".join(f"{line.quantity} × {line.name}" if line.quantity > 1 else line.name for line in order.lines)


def order_status(order: OrderInfo) -> Utterance:
    """The status of one order, with carrier and tracking once shipped."""
    values = {
        "number": order.number,
        "placed": day(order.placed_at),
        "items": _items(order) or "-",
        "total": money(order.total_cents, order.currency),
        "carrier": order.carrier or "our carrier",
        "tracking": order.tracking_number or "-",
        "shipped": day(order.shipped_at),
        "delivered": day(order.delivered_at),
    }
    return Utterance(STATUS_RESPONSES.get(order.status, "utter_order_processing"), values)


def recent_orders(orders: Sequence[OrderInfo]) -> Utterance:
    """A short list of the customer's latest orders."""
    if not orders:
        return Utterance("utter_no_orders")
    lines = [
        f"• {o.number} ({day(o.placed_at)}): {_items(o) or '-'} — {o.status}, {money(o.total_cents, o.currency)}"
        for o in orders
    ]
    return Utterance("utter_recent_orders", {"lines": "\n".join(lines)})


def _device_line(device: DeviceInfo, today: dt.date) -> str:
    state = "in warranty until" if device.in_warranty(today) else "warranty ended on"
    return f"• {device.product_name} (serial {device.serial}): {state} {day(device.warranty_until)}"


def warranty(devices: Sequence[DeviceInfo], today: dt.date, asked_serial: str | None = None) -> Utterance:
    """Warranty of every device, or of the one asked about (a serial not on the account says so)."""
    if not devices:
        return Utterance("utter_no_devices")
    lines = "\n".join(_device_line(device, today) for device in devices)
    if asked_serial is not None:
        wanted = asked_serial.strip().upper()
        matching = [device for device in devices if device.serial.upper() == wanted]
        if not matching:
            return Utterance("utter_device_not_found", {"lines": lines})
        lines = "\n".join(_device_line(device, today) for device in matching)
    return Utterance("utter_warranty_devices", {"lines": lines})


def billing(subscriptions: Sequence[SubscriptionInfo], invoices: Sequence[InvoiceInfo]) -> Utterance:
    """The subscription plan and next bill, and the latest invoices with amount, due date and status."""
    if not subscriptions and not invoices:
        return Utterance("utter_no_billing")
    sub_lines = []
    for sub in subscriptions:
        next_bill = (
            f", next bill {money(sub.price_cents, sub.currency)} on {day(sub.next_bill_on)}" if sub.next_bill_on else ""
        )
        sub_lines.append(f"Your plan: {sub.plan_name} ({sub.status}){next_bill}.")
    invoice_lines = [
        f"• Invoice {inv.number}: {money(inv.amount_cents, inv.currency)}, due {day(inv.due_on)} — {inv.status}"
        for inv in invoices[:3]
    ]
    invoices_text = ("Latest invoices:\n" + "\n".join(invoice_lines)) if invoice_lines else ""
    return Utterance(
        "utter_billing_status",
        {"subscriptions": "\n".join(sub_lines) or "You have no Nimbus Shield subscription.", "invoices": invoices_text},
    )
