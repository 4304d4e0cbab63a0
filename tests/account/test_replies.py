"""What a verified customer is told about their records (pure formatting)."""

from __future__ import annotations

import datetime as dt

from bot.account import replies
from bot.records.model import DeviceInfo, InvoiceInfo, OrderInfo, OrderLine, SubscriptionInfo

TODAY = dt.date(2026, 11, 23)


def order(status: str, **changes: object) -> OrderInfo:
    base = {
        "number": "104512",
        "status": status,
        "placed_at": dt.date(2026, 11, 2),
        "total_cents": 25998,
        "currency": "EUR",
        "carrier": "DHL",
        "tracking_number": "00340434",
        "shipped_at": dt.date(2026, 11, 4),
        "delivered_at": None,
        "lines": (OrderLine("NR-AX3000-EU", "Nimbus Velo AX3000", 2),),
    }
    base.update(changes)
    return OrderInfo(**base)  # type: ignore[arg-type]


def test_each_status_has_its_response_with_carrier_and_tracking() -> None:
    shipped = replies.order_status(order("shipped"))
    assert shipped.response == "utter_order_shipped"
    assert shipped.values["carrier"] == "DHL" and shipped.values["tracking"] == "00340434"
    assert shipped.values["items"] == "2 × Nimbus Velo AX3000" and shipped.values["shipped"] == "4 Nov 2026"
    for status in ("processing", "delivered", "returned", "cancelled"):
        assert replies.order_status(order(status)).response == f"utter_order_{status}"


def test_money_and_days() -> None:
    assert replies.money(25998, "EUR") == "€259.98"
    assert replies.money(100, "CHF") == "1.00 CHF"
    assert replies.day(None) == "-"


def test_recent_orders_list_and_empty() -> None:
    listed = replies.recent_orders([order("shipped"), order("delivered", number="100001")])
    assert listed.response == "utter_recent_orders" and listed.values["lines"].count("\n") == 1
    assert "104512" in listed.values["lines"] and "€259.98" in listed.values["lines"]
    assert replies.recent_orders([]).response == "utter_no_orders"


def test_warranty_in_and_out_and_an_unknown_serial() -> None:
    devices = [
        DeviceInfo("NX-AA-000001", "NR-AX3000-EU", "Nimbus Velo AX3000", dt.date(2025, 1, 1), dt.date(2027, 1, 1)),
        DeviceInfo("NX-BB-000002", "NM-DUO-EU", "Nimbus Mesh Duo", dt.date(2022, 1, 1), dt.date(2024, 1, 1)),
    ]
    every = replies.warranty(devices, TODAY)
    assert "in warranty until 1 Jan 2027" in every.values["lines"]
    assert "warranty ended on 1 Jan 2024" in every.values["lines"]
    one = replies.warranty(devices, TODAY, "nx-bb-000002")
    assert "NX-AA-000001" not in one.values["lines"]
    assert replies.warranty(devices, TODAY, "NX-ZZ-999999").response == "utter_device_not_found"
    assert replies.warranty([], TODAY).response == "utter_no_devices"


def test_billing_shows_plan_next_bill_and_invoices() -> None:
    sub = SubscriptionInfo("S1", "NS-SHIELD-M", "Nimbus Shield Monthly", "active", dt.date(2026, 12, 4), 499, "EUR")
    invoice = InvoiceInfo("INV-1", dt.date(2026, 11, 4), dt.date(2026, 11, 18), 499, "EUR", "paid")
    said = replies.billing([sub], [invoice])
    assert "next bill €4.99 on 4 Dec 2026" in said.values["subscriptions"]
    assert "INV-1" in said.values["invoices"] and "due 18 Nov 2026" in said.values["invoices"]
    assert replies.billing([], []).response == "utter_no_billing"
