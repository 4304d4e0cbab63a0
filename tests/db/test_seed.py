"""The demo data files parse, are consistent, and seed SQLite and PostgreSQL idempotently."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from bot.db.models import Base, OrderStatus
from bot.db.seed import DataFileError, DemoData, load_demo_data, seed_database
from tests.db_fixtures import DATA_DIR

TODAY = dt.date(2026, 11, 23)


def _file_counts() -> dict[str, int]:
    """Count records straight from the files, independently of the loader."""

    def yaml_list(name: str, key: str) -> list[Any]:
        return list(yaml.safe_load((DATA_DIR / name).read_text(encoding="utf-8"))[key])

    def csv_rows(name: str) -> int:
        with open(DATA_DIR / name, encoding="utf-8", newline="") as handle:
            return sum(1 for row in csv.DictReader(handle) if any(row.values()))

    orders = yaml_list("records/orders.yml", "orders")
    return {
        "products": len(yaml_list("catalog/products.yml", "products")),
        "stores": len(yaml_list("catalog/stores.yml", "stores")),
        "stock_levels": csv_rows("catalog/stock.csv"),
        "customers": csv_rows("records/customers.csv"),
        "agents": len(yaml_list("agents.yml", "agents")),
        "orders": len(orders),
        "order_items": sum(len(order["items"]) for order in orders),
        "devices": csv_rows("records/devices.csv"),
        "subscriptions": csv_rows("records/subscriptions.csv"),
        "invoices": csv_rows("records/invoices.csv"),
    }


def _table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: int(connection.execute(select(func.count()).select_from(Base.metadata.tables[table])).scalar_one())
            for table in _file_counts()
        }


def _snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]
            for table in Base.metadata.sorted_tables
        }


def test_loaded_data_matches_the_files(demo_data: DemoData) -> None:
    assert demo_data.counts() == _file_counts()


def test_demo_data_has_what_the_bot_needs(demo_data: DemoData) -> None:
    products = {product.sku: product for product in demo_data.products}
    assert len(products) >= 32
    assert {product.category for product in products.values()} == {
        "router",
        "mesh",
        "extender",
        "adapter",
        "powerline",
        "switch",
        "accessory",
        "subscription",
    }
    plans = [product for product in products.values() if product.is_subscription]
    assert {plan.specs["billing_period"] for plan in plans} == {"monthly", "yearly"}
    assert all(plan.name.startswith("Nimbus Shield") and plan.warranty_months == 0 for plan in plans)
    assert all(product.currency == "EUR" and product.aliases for product in products.values())

    hardware = [sku for sku, product in products.items() if not product.is_subscription]
    assert len(demo_data.stores) >= 5
    assert len(demo_data.stock) == len(demo_data.stores) * len(hardware)
    assert any(level.quantity == 0 for level in demo_data.stock)

    assert len(demo_data.customers) >= 45 and len(demo_data.agents) >= 6
    assert all(agent.slack_user_id and agent.skills and agent.languages for agent in demo_data.agents)

    assert len(demo_data.orders) >= 90
    assert all(re.fullmatch(r"1\d{5}", order.number) for order in demo_data.orders)
    assert all(order.placed_at.year == 2026 and order.placed_at.date() <= TODAY for order in demo_data.orders)
    recent = [order for order in demo_data.orders if order.placed_at >= dt.datetime(2026, 10, 1)]
    assert len(recent) > len(demo_data.orders) / 2

    warranties = Counter(device.warranty_until >= TODAY for device in demo_data.devices)
    assert warranties[True] >= 5 and warranties[False] >= 5
    assert {sub.status for sub in demo_data.subscriptions} == {"active", "paused", "cancelled", "past_due"}
    assert {invoice.status for invoice in demo_data.invoices} == {"paid", "open", "overdue", "failed"}


def test_seed_writes_every_record(seeded_engine: Engine) -> None:
    assert _table_counts(seeded_engine) == _file_counts()


def test_seeding_twice_changes_nothing(migrated_engine: Engine, demo_data: DemoData) -> None:
    first = seed_database(migrated_engine, demo_data)
    assert first.inserted == sum(_file_counts().values()) and first.updated == 0
    before = _snapshot(migrated_engine)

    second = seed_database(migrated_engine, demo_data)
    assert (second.inserted, second.updated) == (0, 0)
    assert second.counts() == first.counts() == _file_counts()
    assert _snapshot(migrated_engine) == before
    assert str(second).startswith(f"products={len(demo_data.products)} ")


def test_seeding_changed_data_updates_only_what_changed(migrated_engine: Engine, demo_data: DemoData) -> None:
    seed_database(migrated_engine, demo_data)
    product = dataclasses.replace(demo_data.products[0], price_cents=demo_data.products[0].price_cents + 100)
    order = demo_data.orders[0]
    item = dataclasses.replace(order.items[0], quantity=order.items[0].quantity + 1)
    order = dataclasses.replace(
        order, items=(item, *order.items[1:]), total_cents=order.total_cents + item.unit_price_cents
    )
    changed = dataclasses.replace(
        demo_data, products=(product, *demo_data.products[1:]), orders=(order, *demo_data.orders[1:])
    )
    report = seed_database(migrated_engine, changed)
    assert report.tables["products"].updated == 1 and report.tables["orders"].updated == 1
    assert report.tables["order_items"].updated == len(order.items)
    assert report.inserted == 0 and report.updated == 2 + len(order.items)
    with migrated_engine.connect() as connection:
        price = connection.execute(text("SELECT price_cents FROM products WHERE sku = :sku"), {"sku": product.sku})
        assert price.scalar_one() == product.price_cents
    assert _table_counts(migrated_engine) == _file_counts()


def test_every_order_status_is_present_several_times(seeded_engine: Engine) -> None:
    with seeded_engine.connect() as connection:
        counts = dict(connection.execute(text("SELECT status, COUNT(*) FROM orders GROUP BY status")).all())
    assert set(counts) == {status.value for status in OrderStatus}
    assert min(counts.values()) >= 3


def test_shipping_fields_follow_the_status(seeded_engine: Engine) -> None:
    query = text("SELECT number, status, carrier, tracking_number, shipped_at, delivered_at FROM orders")
    with seeded_engine.connect() as connection:
        rows = connection.execute(query).all()
    for number, status, carrier, tracking, shipped_at, delivered_at in rows:
        if status in ("shipped", "delivered", "returned"):
            assert carrier in {"DHL", "UPS", "DPD", "PostNL"} and tracking and shipped_at, number
        else:
            assert carrier is None and tracking is None and shipped_at is None, number
        assert (delivered_at is not None) == (status in ("delivered", "returned")), number


# --- broken files ---------------------------------------------------------------------------


def _copy_data(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR / "catalog", target / "catalog")
    shutil.copytree(DATA_DIR / "records", target / "records")
    shutil.copy(DATA_DIR / "agents.yml", target / "agents.yml")
    return target


def _edit(path: Path, pattern: str, replacement: str, occurrence: int = 0) -> int:
    """Rewrite the ``occurrence``-th line matching ``pattern``; return its 1-based number."""
    lines = path.read_text(encoding="utf-8").split("\n")
    matches = [index for index, line in enumerate(lines) if re.search(pattern, line)]
    index = matches[occurrence]
    lines[index] = re.sub(pattern, replacement, lines[index], count=1)
    path.write_text("\n".join(lines), encoding="utf-8")
    return index + 1


BROKEN = [
    # (case, file, pattern, replacement, occurrence, line offset, expected problem)
    ("yaml_syntax", "catalog/products.yml", r"^  - sku: \S+$", r"\g<0>: oops", 1, 0, "invalid YAML"),
    (
        "duplicate_key",
        "records/orders.yml",
        r"^    status: \w+$",
        "\\g<0>\n    status: delivered",
        0,
        1,
        "duplicate key 'status'",
    ),
    (
        "unknown_compatible_sku",
        "catalog/products.yml",
        r"^    compatible_with: \[.+\]$",
        "    compatible_with: [NR-NOPE-EU]",
        0,
        0,
        "compatible_with unknown SKU 'NR-NOPE-EU'",
    ),
    ("bad_price", "catalog/products.yml", r'^    price: "[\d.]+"$', '    price: "12.999"', 3, 0, "at most 2 decimals"),
    ("unquoted_price", "catalog/products.yml", r'^    price: "[\d.]+"$', "    price: 12.5", 0, 0, "quoted decimal"),
    (
        "unknown_item_sku",
        "records/orders.yml",
        r"\{sku: [A-Z0-9.-]+,",
        "{sku: NX-NOPE-EU,",
        5,
        0,
        "references unknown SKU 'NX-NOPE-EU'",
    ),
    (
        "unknown_customer",
        "records/orders.yml",
        r"^    customer_id: \w+$",
        "    customer_id: C9999",
        2,
        0,
        "references unknown customer 'C9999'",
    ),
    (
        "bad_timestamp",
        "records/orders.yml",
        r"^    placed_at: (\d{4})-\d\d-\d\d",
        r"    placed_at: \g<1>-02-30",
        4,
        0,
        "placed_at is not a valid timestamp",
    ),
    ("unknown_status", "records/orders.yml", r"^    status: \w+$", "    status: lost", 0, 0, "unknown status 'lost'"),
    (
        "shipped_without_tracking",
        "records/orders.yml",
        r"^    status: processing$",
        "    status: shipped",
        0,
        0,
        "is shipped but has no carrier",
    ),
    (
        "total_mismatch",
        "records/orders.yml",
        r'^    total: "[\d.]+"$',
        '    total: "99999.99"',
        7,
        0,
        "does not match its items",
    ),
    (
        "bad_csv_date",
        "records/devices.csv",
        r"^(NX-[^,]+,[^,]+,[^,]+,[^,]*,)\d{4}-\d\d-\d\d,",
        r"\g<1>2026-13-01,",
        3,
        0,
        "purchased_on is not a valid YYYY-MM-DD date",
    ),
    ("warranty_mismatch", "records/devices.csv", r",\d{4}-\d\d-\d\d$", ",2099-01-01", 0, 0, "warranty_until must be"),
    ("real_email", "records/customers.csv", r"@example\.(com|org|net),", "@gmail.com,", 4, 0, "example.com"),
    ("unknown_store", "catalog/stock.csv", r"^ST-[A-Z]+,", "ST-XXX,", 10, 0, "unknown store 'ST-XXX'"),
    ("unknown_subscription", "records/invoices.csv", r",SUB-\d+,", ",SUB-9999,", 2, 0, "unknown subscription"),
    (
        "misspelt_field",
        "catalog/products.yml",
        r"^    warranty_months: \d+$",
        "\\g<0>\n    warranty_month: 12",
        2,
        1,
        "has unknown field 'warranty_month'",
    ),
    (
        "shared_alias",
        "catalog/products.yml",
        r"^    aliases: \[",
        "    aliases: [ax3000, ",
        2,
        0,
        "alias 'ax3000' is already used by product 'NR-AX3000-EU'",
    ),
]


@pytest.mark.parametrize(
    ("name", "pattern", "replacement", "occurrence", "offset", "problem"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_broken_files_name_the_file_and_line(
    tmp_path: Path, name: str, pattern: str, replacement: str, occurrence: int, offset: int, problem: str
) -> None:
    data_dir = _copy_data(tmp_path)
    line = _edit(data_dir / name, pattern, replacement, occurrence) + offset
    with pytest.raises(DataFileError) as caught:
        load_demo_data(data_dir)
    assert str(caught.value).startswith(f"data/{name} line {line}: "), str(caught.value)
    assert problem in str(caught.value)
    assert isinstance(caught.value, ValueError) and caught.value.line == line


def test_duplicate_order_number_names_the_second_one(tmp_path: Path) -> None:
    data_dir = _copy_data(tmp_path)
    orders = data_dir / "records/orders.yml"
    first = re.findall(r'^  - number: "(\d+)"$', orders.read_text(encoding="utf-8"), flags=re.M)[0]
    line = _edit(orders, r'^  - number: "\d+"$', f'  - number: "{first}"', 1)
    with pytest.raises(DataFileError, match=rf"^data/records/orders\.yml line {line}: order '{first}' is listed twice"):
        load_demo_data(data_dir)


def test_missing_file_is_named(tmp_path: Path) -> None:
    data_dir = _copy_data(tmp_path)
    (data_dir / "agents.yml").unlink()
    with pytest.raises(DataFileError, match=r"^data/agents\.yml: file not found$"):
        load_demo_data(data_dir)
