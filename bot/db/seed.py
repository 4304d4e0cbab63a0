"""Loading the demo company's data files and writing them to the database (idempotently).

Typical use (what ``python -m bot seed`` does)::

    data = load_demo_data(settings.paths.data_dir)   # parse and cross-check every file
    report = seed_database(engine, data)        # insert or update, in one transaction
    print(report)                               # products=36 stores=6 ... (inserted 0, updated 0)

Seeding upserts by primary key and never deletes rows that are not in the files (the
bot's own records, conversations and handoffs, are not touched). Run it once at a time:
two concurrent seeds of an empty database may collide on a primary key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Table, and_, select
from sqlalchemy.engine import Connection, Engine

from bot.db import models
from bot.db.demo_catalog import load_agents, load_products, load_stock, load_stores
from bot.db.demo_orders import load_orders
from bot.db.demo_records import load_customers, load_devices, load_invoices, load_subscriptions
from bot.db.demo_types import CustomerRecord, DataFileError, DemoData

__all__ = ["DataFileError", "DemoData", "SeedReport", "TableCounts", "load_demo_data", "seed_database"]

_LOGGER = logging.getLogger(__name__)


def load_demo_data(data_dir: Path) -> DemoData:
    """Parse and cross-check every demo data file under ``data_dir``.

    Reads ``catalog/products.yml``, ``catalog/stores.yml``, ``catalog/stock.csv``,
    ``records/customers.csv``, ``records/orders.yml``, ``records/devices.csv``,
    ``records/subscriptions.csv``, ``records/invoices.csv`` and ``agents.yml``.

    Args:
        data_dir: The data folder (``settings.paths.data_dir``).

    Returns:
        The parsed, immutable records.

    Raises:
        DataFileError: On the first problem found, naming the file and line.
    """
    products = load_products(data_dir)
    product_map = {product.sku: product for product in products}
    stores = load_stores(data_dir)
    stock = load_stock(data_dir, {store.id: store for store in stores}, product_map)
    customers = load_customers(data_dir)
    customer_map = {customer.id: customer for customer in customers}
    orders = load_orders(data_dir, customer_map, product_map)
    devices = load_devices(data_dir, customer_map, product_map, {order.number: order for order in orders})
    subscriptions = load_subscriptions(data_dir, customer_map, product_map)
    invoices = load_invoices(data_dir, customer_map, {sub.id: sub for sub in subscriptions})
    agents = load_agents(data_dir)
    data = DemoData(products, stores, stock, customers, orders, devices, subscriptions, invoices, agents)
    _LOGGER.info("seed.loaded %s", " ".join(f"{table}={count}" for table, count in data.counts().items()))
    return data


@dataclass(frozen=True)
class TableCounts:
    """What seeding did to one table."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        """Rows of the data files now in the table."""
        return self.inserted + self.updated + self.unchanged


@dataclass(frozen=True)
class SeedReport:
    """Counts per table after :func:`seed_database`, in seeding order."""

    tables: Mapping[str, TableCounts]

    def counts(self) -> dict[str, int]:
        """Return table name to the number of seeded rows in it."""
        return {table: counts.total for table, counts in self.tables.items()}

    @property
    def inserted(self) -> int:
        """Rows inserted, over all tables."""
        return sum(counts.inserted for counts in self.tables.values())

    @property
    def updated(self) -> int:
        """Rows updated (or, for order items, replaced), over all tables."""
        return sum(counts.updated for counts in self.tables.values())

    def __str__(self) -> str:
        tables = " ".join(f"{table}={count}" for table, count in self.counts().items())
        return f"{tables} (inserted {self.inserted}, updated {self.updated})"


def seed_database(engine: Engine, data: DemoData) -> SeedReport:
    """Insert or update the demo records in one transaction; running it twice changes nothing.

    The schema must exist (see :func:`bot.db.migrate.upgrade`). Rows are matched by
    primary key; order items are matched per order and replaced only when they differ.

    Args:
        engine: The database (SQLite or PostgreSQL).
        data: Records from :func:`load_demo_data`.

    Returns:
        Inserted, updated and unchanged counts per table.
    """
    tables: dict[str, TableCounts] = {}
    with engine.begin() as conn:
        for table, rows in _table_rows(data):
            # An address the customer changed in the chat is not put back by the next seeding.
            tables[table.name] = _upsert(conn, table, rows, insert_only={"shipping_address"})
            if table.name == "orders":
                tables["order_items"] = _sync_order_items(conn, data)
    report = SeedReport(tables)
    total = sum(report.counts().values())
    _LOGGER.info("seed.done inserted=%d updated=%d rows=%d", report.inserted, report.updated, total)
    return report


_METHODS_BY_COUNTRY = {
    "DE": ("card", "paypal", "klarna", "direct_debit"),
    "AT": ("card", "paypal", "klarna"),
    "NL": ("ideal", "paypal", "card"),
    "BE": ("bancontact", "card", "paypal"),
}
_STREETS = ("Lindenstraße", "Hauptstraße", "Gartenweg", "Kirchplatz", "Marktstraße", "Parkallee", "Rosenstraat")


def demo_order_extras(number: str, customer: CustomerRecord) -> dict[str, str]:
    """The demo order's payment method and delivery address, derived from its number and customer.

    The demo files do not hold them; a company's real records do.
    """
    seed = int(number)
    methods = _METHODS_BY_COUNTRY.get(customer.country or "", ("card", "paypal"))
    postcode = f"{1000 + seed % 8999:04d}" if customer.country in ("AT", "BE") else f"{10000 + seed % 89999:05d}"
    if customer.country == "NL":
        postcode = f"{1000 + seed % 8999:04d} {'ABCDEFGH'[seed % 8]}{'KLMNPRST'[seed % 8]}"
    street = _STREETS[seed % len(_STREETS)]
    return {
        "payment_method": methods[seed % len(methods)],
        "shipping_address": f"{street} {1 + seed % 97}, {postcode} {customer.city or 'Berlin'}",
    }


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _table_rows(data: DemoData) -> Iterable[tuple[Table, list[dict[str, Any]]]]:
    yield (
        _table(models.Product),
        [
            {
                "sku": p.sku,
                "name": p.name,
                "category": p.category,
                "model_number": p.model_number,
                "price_cents": p.price_cents,
                "currency": p.currency,
                "description": p.description,
                "specs": dict(p.specs),
                "aliases": list(p.aliases),
                "compatible_with": list(p.compatible_with),
                "warranty_months": p.warranty_months,
                "is_subscription": p.is_subscription,
            }
            for p in data.products
        ],
    )
    yield _table(models.Store), [vars(store).copy() for store in data.stores]
    yield _table(models.StockLevel), [vars(level).copy() for level in data.stock]
    yield _table(models.Customer), [vars(customer).copy() for customer in data.customers]
    yield (
        _table(models.Agent),
        [
            {
                **vars(agent),
                "skills": list(agent.skills),
                "languages": list(agent.languages),
                "channels": list(agent.channels),
            }
            for agent in data.agents
        ],
    )
    customers = {customer.id: customer for customer in data.customers}
    yield (
        _table(models.Order),
        [
            {
                **{key: value for key, value in vars(order).items() if key != "items"},
                **demo_order_extras(order.number, customers[order.customer_id]),
            }
            for order in data.orders
        ],
    )
    yield _table(models.Device), [vars(device).copy() for device in data.devices]
    yield _table(models.Subscription), [vars(sub).copy() for sub in data.subscriptions]
    yield _table(models.Invoice), [vars(invoice).copy() for invoice in data.invoices]


def _upsert(
    conn: Connection, table: Table, rows: list[dict[str, Any]], insert_only: set[str] | None = None
) -> TableCounts:
    """Insert missing rows and update differing ones, matching on the primary key.

    Columns in ``insert_only`` are written with a new row and never updated.
    """
    if not rows:
        return TableCounts()
    key_names = [column.name for column in table.primary_key.columns]
    names = [name for name in rows[0] if name not in (insert_only or set())]
    existing = {
        tuple(row[name] for name in key_names): row
        for row in conn.execute(select(*(table.c[name] for name in names))).mappings()
    }
    missing: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for row in rows:
        current = existing.get(tuple(row[name] for name in key_names))
        if current is None:
            missing.append(row)
        elif any(current[name] != row[name] for name in names):
            changed.append(row)
    if missing:
        conn.execute(table.insert(), missing)
    for row in changed:
        condition = and_(*(table.c[name] == row[name] for name in key_names))
        values = {k: v for k, v in row.items() if k not in key_names and k in names}
        conn.execute(table.update().where(condition).values(values))
    counts = TableCounts(len(missing), len(changed), len(rows) - len(missing) - len(changed))
    _LOGGER.debug(
        "seed.table name=%s inserted=%d updated=%d unchanged=%d",
        table.name,
        counts.inserted,
        counts.updated,
        counts.unchanged,
    )
    return counts


def _sync_order_items(conn: Connection, data: DemoData) -> TableCounts:
    """Make each seeded order's items equal to the file's, keeping rows (and ids) that already match."""
    table = _table(models.OrderItem)
    current: dict[str, list[tuple[str, int, int]]] = {}
    query = select(table.c.order_number, table.c.sku, table.c.quantity, table.c.unit_price_cents).order_by(table.c.id)
    for number, sku, quantity, unit_price in conn.execute(query):
        current.setdefault(number, []).append((sku, quantity, unit_price))
    inserted = replaced = unchanged = 0
    new_rows: list[dict[str, Any]] = []
    for order in data.orders:
        wanted = [(item.sku, item.quantity, item.unit_price_cents) for item in order.items]
        have = current.get(order.number, [])
        if have == wanted:
            unchanged += len(wanted)
            continue
        if have:
            conn.execute(table.delete().where(table.c.order_number == order.number))
            replaced += len(wanted)
        else:
            inserted += len(wanted)
        new_rows.extend(
            {"order_number": order.number, "sku": sku, "quantity": quantity, "unit_price_cents": price}
            for sku, quantity, price in wanted
        )
    if new_rows:
        conn.execute(table.insert(), new_rows)
    return TableCounts(inserted, replaced, unchanged)
