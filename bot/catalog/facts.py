"""Structured product facts: price, stock by store, specs, compatibility and comparison.

Pure functions over the catalog records; they return data, never sentences (the wording of
answers lives in data files).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.db.demo_types import ProductRecord, StockRecord, StoreRecord

CompatibilityReason = Literal["same_product", "listed_by_both", "listed_by_first", "listed_by_second", "not_listed"]


@dataclass(frozen=True)
class PriceFact:
    """A product's price.

    Attributes:
        sku: The product's SKU.
        name: The product's display name.
        price_cents: Price in integer cents.
        currency: ISO currency code.
        is_subscription: Whether the price is per billing period.
    """

    sku: str
    name: str
    price_cents: int
    currency: str
    is_subscription: bool


@dataclass(frozen=True)
class StoreStock:
    """Units of one product in one store.

    Attributes:
        store_id: The store's id.
        name: The store's name.
        city: The store's city.
        quantity: Units in stock (0 when the store has none or no stock row).
    """

    store_id: str
    name: str
    city: str
    quantity: int


@dataclass(frozen=True)
class SpecRow:
    """One specification of a product.

    Attributes:
        key: The spec key as in the catalog, e.g. ``max_speed``.
        value: The raw value (string, number, boolean or list).
    """

    key: str
    value: Any


@dataclass(frozen=True)
class Compatibility:
    """Whether two products work together, and why.

    Attributes:
        first_sku: The first product.
        second_sku: The second product.
        compatible: True when either lists the other in ``compatible_with``.
        reason: Which side lists the other, ``same_product`` or ``not_listed``.
    """

    first_sku: str
    second_sku: str
    compatible: bool
    reason: CompatibilityReason


@dataclass(frozen=True)
class ComparisonRow:
    """One aligned row of a two-product comparison.

    Attributes:
        key: The spec key (or ``price_cents`` / ``warranty_months``).
        first: The first product's value, or None when it has no such spec.
        second: The second product's value, or None when it has no such spec.
        differs: Whether the two values differ.
    """

    key: str
    first: Any
    second: Any
    differs: bool


@dataclass(frozen=True)
class Comparison:
    """A side-by-side comparison of two products.

    Attributes:
        first: Price facts of the first product.
        second: Price facts of the second product.
        rows: Aligned rows: price, warranty, then the union of spec keys (first product's order first).
    """

    first: PriceFact
    second: PriceFact
    rows: tuple[ComparisonRow, ...]


def products_by_sku(products: Iterable[ProductRecord]) -> dict[str, ProductRecord]:
    """Index products by SKU.

    Args:
        products: The catalog.

    Returns:
        SKU to product.
    """
    return {product.sku: product for product in products}


def _get(products: Mapping[str, ProductRecord], sku: str) -> ProductRecord:
    try:
        return products[sku]
    except KeyError:
        raise KeyError(f"unknown SKU {sku!r}") from None


def price(products: Mapping[str, ProductRecord], sku: str) -> PriceFact:
    """Return a product's price.

    Args:
        products: SKU to product (see :func:`products_by_sku`).
        sku: The product.

    Returns:
        The price facts.

    Raises:
        KeyError: The SKU is not in the catalog.
    """
    product = _get(products, sku)
    return PriceFact(product.sku, product.name, product.price_cents, product.currency, product.is_subscription)


def stock_by_store(
    sku: str, stores: Sequence[StoreRecord], stock: Iterable[StockRecord], city: str | None = None
) -> list[StoreStock]:
    """Return the stock of a product in every store, including stores that have none.

    Args:
        sku: The product.
        stores: The stores, in the order to report them.
        stock: All stock rows.
        city: Only stores in this city (case-insensitive), when given.

    Returns:
        One entry per store, in ``stores`` order.
    """
    quantities = {row.store_id: row.quantity for row in stock if row.sku == sku}
    wanted = city.casefold() if city is not None else None
    return [
        StoreStock(store.id, store.name, store.city, quantities.get(store.id, 0))
        for store in stores
        if wanted is None or store.city.casefold() == wanted
    ]


def specs(products: Mapping[str, ProductRecord], sku: str) -> list[SpecRow]:
    """Return a product's specifications in catalog order.

    Args:
        products: SKU to product.
        sku: The product.

    Returns:
        One row per spec.

    Raises:
        KeyError: The SKU is not in the catalog.
    """
    return [SpecRow(key, value) for key, value in _get(products, sku).specs.items()]


def compatibility(products: Mapping[str, ProductRecord], first_sku: str, second_sku: str) -> Compatibility:
    """Check whether two products work together, using ``compatible_with`` in either direction.

    Args:
        products: SKU to product.
        first_sku: One product.
        second_sku: The other product.

    Returns:
        The verdict and which side lists the other.

    Raises:
        KeyError: Either SKU is not in the catalog.
    """
    first, second = _get(products, first_sku), _get(products, second_sku)
    if first.sku == second.sku:
        return Compatibility(first.sku, second.sku, True, "same_product")
    by_first = second.sku in first.compatible_with
    by_second = first.sku in second.compatible_with
    reason: CompatibilityReason
    if by_first and by_second:
        reason = "listed_by_both"
    elif by_first:
        reason = "listed_by_first"
    elif by_second:
        reason = "listed_by_second"
    else:
        reason = "not_listed"
    return Compatibility(first.sku, second.sku, by_first or by_second, reason)


def compare(products: Mapping[str, ProductRecord], first_sku: str, second_sku: str) -> Comparison:
    """Compare two products spec by spec.

    Args:
        products: SKU to product.
        first_sku: One product.
        second_sku: The other product.

    Returns:
        Price facts of both and aligned rows (None where a product lacks a spec).

    Raises:
        KeyError: Either SKU is not in the catalog.
    """
    first, second = _get(products, first_sku), _get(products, second_sku)
    rows = [
        ComparisonRow("price_cents", first.price_cents, second.price_cents, first.price_cents != second.price_cents),
        ComparisonRow(
            "warranty_months",
            first.warranty_months,
            second.warranty_months,
            first.warranty_months != second.warranty_months,
        ),
    ]
    keys = list(first.specs) + [key for key in second.specs if key not in first.specs]
    for key in keys:
        left, right = first.specs.get(key), second.specs.get(key)
        rows.append(ComparisonRow(key, left, right, left != right))
    return Comparison(price(products, first_sku), price(products, second_sku), tuple(rows))
