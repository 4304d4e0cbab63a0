"""Wording of product answers, read from the ``catalog:`` mapping of ``data/texts.yml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.texts import TextsError, read_section, read_templates

PLACEHOLDERS: dict[str, frozenset[str]] = {
    "money": frozenset({"symbol", "amount"}),
    "price": frozenset({"name", "price"}),
    "price_subscription": frozenset({"name", "price", "period"}),
    "period_monthly": frozenset(),
    "period_yearly": frozenset(),
    "stock_header": frozenset({"name"}),
    "stock_line": frozenset({"store", "city", "quantity"}),
    "stock_line_none": frozenset({"store", "city"}),
    "stock_in_store": frozenset({"store", "city", "quantity", "name"}),
    "stock_not_in_store": frozenset({"store", "city", "name"}),
    "stock_elsewhere": frozenset({"stores"}),
    "stock_nowhere": frozenset({"name"}),
    "stock_subscription": frozenset({"name"}),
    "specs_header": frozenset({"name"}),
    "spec_line": frozenset({"label", "value"}),
    "spec_true": frozenset(),
    "spec_false": frozenset(),
    "missing_value": frozenset(),
    "compatible_yes": frozenset({"first", "second"}),
    "compatible_no": frozenset({"first", "second"}),
    "compatible_same": frozenset({"name"}),
    "works_with": frozenset({"name", "names"}),
    "works_with_none": frozenset({"name"}),
    "and_more": frozenset({"count"}),
    "compare_header": frozenset({"first", "second"}),
    "compare_line": frozenset({"label", "first", "second"}),
    "compare_same_specs": frozenset(),
    "compare_pick_second": frozenset({"name"}),
    "clarify": frozenset(),
    "not_found": frozenset(),
    "not_found_named": frozenset({"query"}),
    "which_product": frozenset(),
}
"""Every template key of the ``catalog:`` mapping and the placeholders it may use."""


@dataclass(frozen=True)
class CatalogTexts:
    """Templates of product answers (``str.format`` with named placeholders, see :data:`PLACEHOLDERS`).

    Attributes:
        currency_symbols: ISO currency code to symbol (``EUR`` to ``€``); unknown codes are shown as is.
        spec_labels: Spec key to readable label (``coverage_m2`` to ``Coverage (m²)``).
    """

    money: str
    price: str
    price_subscription: str
    period_monthly: str
    period_yearly: str
    stock_header: str
    stock_line: str
    stock_line_none: str
    stock_in_store: str
    stock_not_in_store: str
    stock_elsewhere: str
    stock_nowhere: str
    stock_subscription: str
    specs_header: str
    spec_line: str
    spec_true: str
    spec_false: str
    missing_value: str
    compatible_yes: str
    compatible_no: str
    compatible_same: str
    works_with: str
    works_with_none: str
    and_more: str
    compare_header: str
    compare_line: str
    compare_same_specs: str
    compare_pick_second: str
    clarify: str
    not_found: str
    not_found_named: str
    which_product: str
    currency_symbols: Mapping[str, str]
    spec_labels: Mapping[str, str]

    def label(self, key: str) -> str:
        """Return the readable label of a spec key (the key itself, prettified, when unlabelled)."""
        return self.spec_labels.get(key) or key.replace("_", " ").capitalize()


def _string_map(path: Path, name: str, value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str | int | float) for v in value.values()):
        raise TextsError(f"{path}: catalog.{name} must be a mapping of strings")
    return {str(key): str(text) for key, text in value.items()}


def load_catalog_texts(path: Path) -> CatalogTexts:
    """Read and check the ``catalog:`` mapping of ``texts.yml``.

    Args:
        path: The texts file, e.g. ``data/texts.yml``.

    Returns:
        The templates, stripped.

    Raises:
        TextsError: with the file name, when the file is unreadable, a key is missing or empty,
            or a template uses a placeholder the service does not fill.
    """
    templates = read_templates(path, "catalog", PLACEHOLDERS)
    section = read_section(path, "catalog")
    missing = [key for key in ("currency_symbols", "spec_labels") if key not in section]
    if missing:
        raise TextsError(f"{path}: missing or empty catalog text(s): {', '.join(missing)}")
    return CatalogTexts(
        **templates,
        currency_symbols=_string_map(path, "currency_symbols", section["currency_symbols"]),
        spec_labels=_string_map(path, "spec_labels", section["spec_labels"]),
    )
