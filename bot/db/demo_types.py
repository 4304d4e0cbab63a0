"""Typed, immutable records of the demo company's data files, and the error they raise.

The parsers in :mod:`bot.db.data_files`, :mod:`bot.db.demo_catalog` and
:mod:`bot.db.demo_records` build these; :mod:`bot.db.seed` writes them to the database.
Money is in integer cents, timestamps are naive UTC, as in :mod:`bot.db.models`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.db.models import OrderStatus


class DataFileError(ValueError):
    """A data file is missing, malformed or inconsistent with the other files.

    The message names the file (relative to the data folder's parent, e.g.
    ``data/catalog/products.yml``) and, when known, the line:
    ``data/catalog/products.yml line 42: product 'NR-X' compatible_with unknown SKU 'NR-Y'``.

    Attributes:
        path: The file, as shown in the message.
        line: The 1-based line of the problem, or None when it concerns the whole file.
        problem: The message without the file and line.
    """

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path} line {line}" if line is not None else path
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class ProductRecord:
    """One catalog product (hardware or a subscription plan)."""

    sku: str
    name: str
    category: str
    model_number: str
    price_cents: int
    currency: str
    description: str
    specs: Mapping[str, Any]
    aliases: tuple[str, ...]
    compatible_with: tuple[str, ...]
    warranty_months: int
    is_subscription: bool


@dataclass(frozen=True)
class StoreRecord:
    """A physical store."""

    id: str
    name: str
    city: str
    address: str
    opening_hours: str


@dataclass(frozen=True)
class StockRecord:
    """Units of one product held by one store."""

    store_id: str
    sku: str
    quantity: int


@dataclass(frozen=True)
class CustomerRecord:
    """A customer of the demo company (all contact data is fictitious)."""

    id: str
    name: str
    email: str
    phone: str | None
    city: str | None
    country: str | None


@dataclass(frozen=True)
class OrderItemRecord:
    """One line of an order."""

    sku: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class OrderRecord:
    """A customer's order with its shipping state."""

    number: str
    customer_id: str
    status: OrderStatus
    placed_at: dt.datetime
    total_cents: int
    currency: str
    carrier: str | None
    tracking_number: str | None
    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None
    status_changed_at: dt.datetime
    items: tuple[OrderItemRecord, ...]


@dataclass(frozen=True)
class DeviceRecord:
    """A registered device and its warranty."""

    serial: str
    customer_id: str
    sku: str
    order_number: str | None
    purchased_on: dt.date
    warranty_until: dt.date


@dataclass(frozen=True)
class SubscriptionRecord:
    """A customer's subscription to a plan."""

    id: str
    customer_id: str
    plan_sku: str
    status: str
    started_on: dt.date
    next_bill_on: dt.date | None
    price_cents: int
    currency: str


@dataclass(frozen=True)
class InvoiceRecord:
    """An invoice issued to a customer."""

    number: str
    customer_id: str
    subscription_id: str | None
    issued_on: dt.date
    due_on: dt.date
    amount_cents: int
    currency: str
    status: str


@dataclass(frozen=True)
class AgentRecord:
    """A human support agent of the roster."""

    id: str
    name: str
    email: str
    slack_user_id: str | None
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    channels: tuple[str, ...]
    capacity: int
    active: bool


@dataclass(frozen=True)
class DemoData:
    """Everything in the data folder, parsed and cross-checked."""

    products: tuple[ProductRecord, ...]
    stores: tuple[StoreRecord, ...]
    stock: tuple[StockRecord, ...]
    customers: tuple[CustomerRecord, ...]
    orders: tuple[OrderRecord, ...]
    devices: tuple[DeviceRecord, ...]
    subscriptions: tuple[SubscriptionRecord, ...]
    invoices: tuple[InvoiceRecord, ...]
    agents: tuple[AgentRecord, ...]

    def counts(self) -> dict[str, int]:
        """Return the number of records per database table.

        Returns:
            Table name to record count, in seeding order.
        """
        return {
            "products": len(self.products),
            "stores": len(self.stores),
            "stock_levels": len(self.stock),
            "customers": len(self.customers),
            "agents": len(self.agents),
            "orders": len(self.orders),
            "order_items": sum(len(order.items) for order in self.orders),
            "devices": len(self.devices),
            "subscriptions": len(self.subscriptions),
            "invoices": len(self.invoices),
        }
