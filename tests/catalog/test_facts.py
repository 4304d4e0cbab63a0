"""Structured product facts: price, stock by store, specs, compatibility and comparison."""

from __future__ import annotations

import pytest

from bot.catalog import facts
from bot.db.demo_types import DemoData, ProductRecord
from bot.db.seed import load_demo_data
from bot.settings import PROJECT_ROOT

ROOT = PROJECT_ROOT


@pytest.fixture(scope="module")
def data() -> DemoData:
    return load_demo_data(ROOT / "data")


@pytest.fixture(scope="module")
def products(data: DemoData) -> dict[str, ProductRecord]:
    return facts.products_by_sku(data.products)


def test_price(products: dict[str, ProductRecord]) -> None:
    assert facts.price(products, "NR-AX3000-EU") == facts.PriceFact(
        "NR-AX3000-EU", "Nimbus Velo AX3000", 12999, "EUR", False
    )
    assert facts.price(products, "NS-SHIELD-M").is_subscription is True


def test_unknown_sku_raises(products: dict[str, ProductRecord]) -> None:
    with pytest.raises(KeyError, match="NOPE"):
        facts.price(products, "NOPE")


def test_stock_by_store_lists_every_store_including_zero_stock(data: DemoData) -> None:
    rows = facts.stock_by_store("NR-AX6000P-EU", data.stores, data.stock)
    assert [row.store_id for row in rows] == [store.id for store in data.stores]
    by_id = {row.store_id: row for row in rows}
    assert by_id["ST-BER"] == facts.StoreStock("ST-BER", "Nimbus Store Berlin Mitte", "Berlin", 0)
    assert by_id["ST-MUC"].quantity == 7
    assert by_id["ST-MUC"].city == "Munich"


def test_stock_by_store_for_one_city_and_for_products_without_rows(data: DemoData) -> None:
    assert facts.stock_by_store("NR-AX3000-EU", data.stores, data.stock, city="berlin") == [
        facts.StoreStock("ST-BER", "Nimbus Store Berlin Mitte", "Berlin", 20)
    ]
    assert facts.stock_by_store("NR-AX3000-EU", data.stores, data.stock, city="Rome") == []
    shield = facts.stock_by_store("NS-SHIELD-Y", data.stores, data.stock)
    assert len(shield) == len(data.stores) and all(row.quantity == 0 for row in shield)


def test_specs(products: dict[str, ProductRecord]) -> None:
    rows = facts.specs(products, "NR-AX3000-EU")
    assert rows[0] == facts.SpecRow("wifi_standard", "Wi-Fi 6 (802.11ax)")
    assert facts.SpecRow("coverage_m2", 150) in rows
    assert [row.key for row in rows] == list(products["NR-AX3000-EU"].specs)


def test_compatibility_listed_in_either_direction(products: dict[str, ProductRecord]) -> None:
    forward = facts.compatibility(products, "NX-PS12-3-EU", "NR-AX3000-EU")
    assert (forward.compatible, forward.reason) == (True, "listed_by_first")
    backward = facts.compatibility(products, "NR-AX3000-EU", "NX-PS12-3-EU")
    assert (backward.compatible, backward.reason) == (True, "listed_by_second")
    both = facts.compatibility(products, "NR-AX3000-EU", "NM-SAT-EU")
    assert (both.compatible, both.reason) == (True, "listed_by_both")


def test_compatibility_clear_no(products: dict[str, ProductRecord]) -> None:
    verdict = facts.compatibility(products, "NR-AX1800-EU", "NS-SHIELD-M")
    assert verdict == facts.Compatibility("NR-AX1800-EU", "NS-SHIELD-M", False, "not_listed")
    assert facts.compatibility(products, "NX-PS19-3-EU", "NR-AX3000-EU").compatible is False
    assert facts.compatibility(products, "NR-AX1800-EU", "NR-AX1800-EU").reason == "same_product"


def test_comparison_aligns_spec_rows(products: dict[str, ProductRecord]) -> None:
    result = facts.compare(products, "NR-AX1800-EU", "NR-AX3000-EU")
    assert (result.first.sku, result.second.sku) == ("NR-AX1800-EU", "NR-AX3000-EU")
    rows = {row.key: row for row in result.rows}
    assert rows["price_cents"] == facts.ComparisonRow("price_cents", 7999, 12999, True)
    assert rows["wifi_standard"].differs is False
    assert (rows["coverage_m2"].first, rows["coverage_m2"].second) == (90, 150)
    assert [row.key for row in result.rows][:2] == ["price_cents", "warranty_months"]


def test_comparison_of_different_kinds_fills_missing_with_none(products: dict[str, ProductRecord]) -> None:
    result = facts.compare(products, "NR-AX3000-EU", "NW-SW8G-EU")
    rows = {row.key: row for row in result.rows}
    assert rows["wifi_standard"].second is None
    assert rows["switching_capacity"].first is None
    assert rows["switching_capacity"].second is not None
    keys = [row.key for row in result.rows]
    assert len(keys) == len(set(keys))
