"""Parsing ``records/orders.yml``: orders, their items and their shipping state."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Mapping
from pathlib import Path

from bot.db.data_fields import Fields
from bot.db.data_files import LinedDict, display_path, read_yaml_list
from bot.db.demo_types import CustomerRecord, OrderItemRecord, OrderRecord, ProductRecord
from bot.db.models import OrderStatus

ORDERS_FILE = Path("records/orders.yml")
CARRIERS = frozenset({"DHL", "UPS", "DPD", "PostNL"})
_ORDER_NUMBER = re.compile(r"^1\d{5}$")
_ORDER_FIELDS = {
    "number",
    "customer_id",
    "status",
    "placed_at",
    "currency",
    "carrier",
    "tracking_number",
    "shipped_at",
    "delivered_at",
    "status_changed_at",
    "items",
    "total",
}
# Which shipping fields each status needs (True), forbids (False) or allows (absent).
_SHIPPING_RULES: dict[OrderStatus, dict[str, bool]] = {
    OrderStatus.PROCESSING: {"carrier": False, "tracking_number": False, "shipped_at": False, "delivered_at": False},
    OrderStatus.CANCELLED: {"carrier": False, "tracking_number": False, "shipped_at": False, "delivered_at": False},
    OrderStatus.SHIPPED: {"carrier": True, "tracking_number": True, "shipped_at": True, "delivered_at": False},
    OrderStatus.DELIVERED: {"carrier": True, "tracking_number": True, "shipped_at": True, "delivered_at": True},
    OrderStatus.RETURNED: {"carrier": True, "tracking_number": True, "shipped_at": True, "delivered_at": True},
}


def load_orders(
    data_dir: Path, customers: Mapping[str, CustomerRecord], products: Mapping[str, ProductRecord]
) -> tuple[OrderRecord, ...]:
    """Parse ``records/orders.yml``.

    Args:
        data_dir: The data folder.
        customers: Known customers by id.
        products: Known products by SKU.

    Returns:
        The orders, in file order.

    Raises:
        DataFileError: On a duplicate or malformed order number, an unknown customer, SKU
            or status, a bad date or price, shipping fields that do not fit the status,
            timestamps out of order, or a total that is not the sum of the items.
    """
    path = data_dir / ORDERS_FILE
    shown = display_path(data_dir, path)
    orders: dict[str, OrderRecord] = {}
    for entry in read_yaml_list(path, shown, "orders"):
        fields = Fields(shown, entry.line, entry, "order")
        number = fields.identifier("number", 20)
        fields.label = f"order {number!r}"
        fields.only(_ORDER_FIELDS)
        if not _ORDER_NUMBER.match(number):
            raise fields.error("number must be six digits starting with 1", "number")
        if number in orders:
            raise fields.error("is listed twice (duplicate order number)", "number")
        customer_id = fields.identifier("customer_id", 32)
        if customer_id not in customers:
            raise fields.error(f"references unknown customer {customer_id!r}", "customer_id")
        status_text = fields.text("status")
        try:
            status = OrderStatus(status_text)
        except ValueError:
            known = ", ".join(member.value for member in OrderStatus)
            raise fields.error(f"has unknown status {status_text!r} (one of {known})", "status") from None
        items = _items(fields, entry, products)
        total_cents = fields.cents("total")
        expected = sum(item.quantity * item.unit_price_cents for item in items)
        if total_cents != expected:
            raise fields.error(
                f"total {total_cents / 100:.2f} does not match its items ({expected / 100:.2f})", "total"
            )
        orders[number] = _shipping(fields, number, customer_id, status, items, total_cents)
    return tuple(orders.values())


def _items(fields: Fields, entry: LinedDict, products: Mapping[str, ProductRecord]) -> tuple[OrderItemRecord, ...]:
    raw_items = entry.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise fields.error("needs a non-empty list of items", "items")
    items: list[OrderItemRecord] = []
    for raw in raw_items:
        if not isinstance(raw, LinedDict):
            raise fields.error("has an item that is not a mapping", "items")
        item = Fields(fields.shown, raw.line, raw, f"{fields.label} item")
        item.only({"sku", "quantity", "unit_price"})
        sku = item.identifier("sku", 40)
        if sku not in products:
            raise item.error(f"references unknown SKU {sku!r}", "sku")
        items.append(OrderItemRecord(sku, item.integer("quantity", minimum=1), item.cents("unit_price")))
    return tuple(items)


def _shipping(
    fields: Fields,
    number: str,
    customer_id: str,
    status: OrderStatus,
    items: tuple[OrderItemRecord, ...],
    total_cents: int,
) -> OrderRecord:
    placed_at = fields.datetime("placed_at")
    carrier = fields.optional_text("carrier", 40)
    tracking_number = fields.optional_text("tracking_number", 60)
    shipped_at = fields.optional_datetime("shipped_at")
    delivered_at = fields.optional_datetime("delivered_at")
    present = {
        "carrier": carrier is not None,
        "tracking_number": tracking_number is not None,
        "shipped_at": shipped_at is not None,
        "delivered_at": delivered_at is not None,
    }
    for key, needed in _SHIPPING_RULES[status].items():
        if needed and not present[key]:
            raise fields.error(f"is {status.value} but has no {key}", "status")
        if not needed and present[key]:
            raise fields.error(f"is {status.value} and must not have {key}", key)
    if carrier is not None and carrier not in CARRIERS:
        raise fields.error(f"has unknown carrier {carrier!r} (one of {', '.join(sorted(CARRIERS))})", "carrier")
    _in_order(fields, [("placed_at", placed_at), ("shipped_at", shipped_at), ("delivered_at", delivered_at)])
    latest = max(moment for moment in (placed_at, shipped_at, delivered_at) if moment is not None)
    status_changed_at = fields.optional_datetime("status_changed_at") or latest
    _in_order(fields, [("last event", latest), ("status_changed_at", status_changed_at)])
    return OrderRecord(
        number=number,
        customer_id=customer_id,
        status=status,
        placed_at=placed_at,
        total_cents=total_cents,
        currency=fields.currency(),
        carrier=carrier,
        tracking_number=tracking_number,
        shipped_at=shipped_at,
        delivered_at=delivered_at,
        status_changed_at=status_changed_at,
        items=items,
    )


def _in_order(fields: Fields, moments: list[tuple[str, dt.datetime | None]]) -> None:
    known = [(key, moment) for key, moment in moments if moment is not None]
    for (first_key, first), (second_key, second) in itertools.pairwise(known):
        if second < first:
            raise fields.error(f"has {second_key} before {first_key}", second_key)
