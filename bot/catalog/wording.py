"""Turning structured product facts into customer sentences, with the templates of :class:`CatalogTexts`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.catalog import facts
from bot.catalog.texts import CatalogTexts
from bot.db.demo_types import ProductRecord, StockRecord, StoreRecord

MAX_SPECS = 6
"""How many specs a specs answer shows (the catalog lists the main ones first)."""
MAX_COMPARE_ROWS = 6
"""How many differing rows a comparison shows besides the price."""
MAX_NAMES = 6
"""How many product names a "works with" answer lists before "and N more"."""


class ProductWording:
    """Sentences about catalog products; every word comes from the templates."""

    def __init__(
        self,
        *,
        texts: CatalogTexts,
        products: Mapping[str, ProductRecord],
        stores: Sequence[StoreRecord],
        stock: Sequence[StockRecord],
    ) -> None:
        """Keep the catalog and the templates.

        Args:
            texts: The templates.
            products: SKU to product.
            stores: The stores, in the order to report them.
            stock: All stock rows.
        """
        self._texts = texts
        self._products = products
        self._stores = tuple(stores)
        self._stock = tuple(stock)

    def money(self, cents: int, currency: str) -> str:
        """Format an amount, e.g. ``€79.99``."""
        symbol = self._texts.currency_symbols.get(currency, f"{currency} ")
        return self._texts.money.format(symbol=symbol, amount=f"{cents / 100:,.2f}")

    def price(self, sku: str) -> str:
        """Say what a product costs (per billing period for subscriptions)."""
        fact = facts.price(self._products, sku)
        amount = self.money(fact.price_cents, fact.currency)
        if not fact.is_subscription:
            return self._texts.price.format(name=fact.name, price=amount)
        period = str(self._products[sku].specs.get("billing_period", "")).casefold()
        wording = (
            self._texts.period_yearly if period in ("yearly", "annual", "annually") else self._texts.period_monthly
        )
        return self._texts.price_subscription.format(name=fact.name, price=amount, period=wording)

    def availability(self, sku: str, store_ids: Sequence[str] = ()) -> str:
        """Say where a product is in stock: in the named stores only, or in every store.

        Args:
            sku: The product.
            store_ids: Stores the customer named (e.g. by city); empty for all stores.

        Returns:
            The answer, one line per store when listing all stores.
        """
        product = self._products[sku]
        if product.is_subscription:
            return self._texts.stock_subscription.format(name=product.name)
        rows = facts.stock_by_store(sku, self._stores, self._stock)
        if store_ids:
            lines = []
            for row in (r for r in rows if r.store_id in store_ids):
                template = self._texts.stock_in_store if row.quantity > 0 else self._texts.stock_not_in_store
                lines.append(template.format(store=row.name, city=row.city, quantity=row.quantity, name=product.name))
            if all(r.quantity == 0 for r in rows if r.store_id in store_ids):
                elsewhere = [f"{r.name} ({r.quantity})" for r in rows if r.quantity > 0]
                if elsewhere:
                    lines.append(self._texts.stock_elsewhere.format(stores=", ".join(elsewhere)))
            return "\n".join(lines)
        if all(row.quantity == 0 for row in rows):
            return self._texts.stock_nowhere.format(name=product.name)
        lines = [self._texts.stock_header.format(name=product.name)]
        for row in rows:
            template = self._texts.stock_line if row.quantity > 0 else self._texts.stock_line_none
            lines.append(template.format(store=row.name, city=row.city, quantity=row.quantity))
        return "\n".join(lines)

    def value(self, key: str, value: Any, currency: str) -> str:
        """Render one spec value readably (lists joined, booleans as yes/no, prices as money)."""
        if value is None:
            return self._texts.missing_value
        if key == "price_cents":
            return self.money(int(value), currency)
        if isinstance(value, bool):
            return self._texts.spec_true if value else self._texts.spec_false
        if isinstance(value, list | tuple):
            return ", ".join(str(item) for item in value)
        return str(value)

    def specs(self, sku: str) -> str:
        """List a product's main specs with readable labels."""
        product = self._products[sku]
        lines = [self._texts.specs_header.format(name=product.name)]
        for row in facts.specs(self._products, sku)[:MAX_SPECS]:
            label = self._texts.label(row.key)
            lines.append(self._texts.spec_line.format(label=label, value=self.value(row.key, row.value, "")))
        return "\n".join(lines)

    def compatibility(self, first_sku: str, second_sku: str) -> str:
        """Say whether two products work together and why (when not, what the first works with)."""
        verdict = facts.compatibility(self._products, first_sku, second_sku)
        first, second = self._products[first_sku].name, self._products[second_sku].name
        if verdict.reason == "same_product":
            return self._texts.compatible_same.format(name=first)
        if verdict.compatible:
            return self._texts.compatible_yes.format(first=first, second=second)
        answer = self._texts.compatible_no.format(first=first, second=second)
        return f"{answer} {self.works_with(first_sku)}"

    def partners(self, sku: str) -> list[str]:
        """Return the SKUs a product works with: those it lists and those that list it, in catalog order."""
        own = set(self._products[sku].compatible_with)
        return [
            other.sku
            for other in self._products.values()
            if other.sku != sku and (other.sku in own or sku in other.compatible_with)
        ]

    def works_with(self, sku: str) -> str:
        """List what a product works with (both directions of ``compatible_with``)."""
        name = self._products[sku].name
        names = [self._products[other].name for other in self.partners(sku)]
        if not names:
            return self._texts.works_with_none.format(name=name)
        shown = names[:MAX_NAMES]
        if len(names) > MAX_NAMES:
            shown.append(self._texts.and_more.format(count=len(names) - MAX_NAMES))
        return self._texts.works_with.format(name=name, names=", ".join(shown))

    def comparison(self, first_sku: str, second_sku: str) -> str:
        """Show two products side by side: the price, then the specs that differ."""
        result = facts.compare(self._products, first_sku, second_sku)
        first, second = result.first, result.second
        lines = [self._texts.compare_header.format(first=first.name, second=second.name)]
        rows = [row for row in result.rows if row.key == "price_cents" or row.differs]
        for row in rows[: MAX_COMPARE_ROWS + 1]:
            left = self.value(row.key, row.first, first.currency)
            right = self.value(row.key, row.second, second.currency)
            lines.append(self._texts.compare_line.format(label=self._texts.label(row.key), first=left, second=right))
        if len(rows) == 1:
            lines.append(self._texts.compare_same_specs)
        return "\n".join(lines)
