"""Parsing the catalog files (products, stores, stock) and the agent roster."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from bot.db.data_fields import Fields
from bot.db.data_files import display_path, read_csv_rows, read_yaml_list
from bot.db.demo_types import AgentRecord, DataFileError, ProductRecord, StockRecord, StoreRecord

PRODUCTS_FILE = Path("catalog/products.yml")
STORES_FILE = Path("catalog/stores.yml")
STOCK_FILE = Path("catalog/stock.csv")
AGENTS_FILE = Path("agents.yml")

CATEGORIES = frozenset({"router", "mesh", "extender", "adapter", "powerline", "switch", "accessory", "subscription"})
_SKU = r"[A-Z0-9][A-Z0-9.\-]{1,39}"
_PRODUCT_FIELDS = {
    "sku",
    "name",
    "category",
    "model_number",
    "price",
    "currency",
    "description",
    "specs",
    "aliases",
    "compatible_with",
    "warranty_months",
    "is_subscription",
}


def load_products(data_dir: Path) -> tuple[ProductRecord, ...]:
    """Parse ``catalog/products.yml``.

    Args:
        data_dir: The data folder.

    Returns:
        The products, in file order.

    Raises:
        DataFileError: On any malformed field, a duplicate SKU, an alias used by two products
            or an unknown ``compatible_with`` SKU.
    """
    path = data_dir / PRODUCTS_FILE
    shown = display_path(data_dir, path)
    products: dict[str, ProductRecord] = {}
    alias_owner: dict[str, str] = {}
    references: list[tuple[Fields, str]] = []
    for entry in read_yaml_list(path, shown, "products"):
        fields = Fields(shown, entry.line, entry, "product")
        sku = fields.identifier("sku", 40)
        if not re.fullmatch(_SKU, sku):
            raise fields.error(f"has an invalid sku {sku!r} (use upper-case letters, digits, '-' and '.')", "sku")
        fields.label = f"product {sku!r}"
        fields.only(_PRODUCT_FIELDS)
        if sku in products:
            raise fields.error("is listed twice (duplicate sku)", "sku")
        category = fields.text("category")
        if category not in CATEGORIES:
            known = ", ".join(sorted(CATEGORIES))
            raise fields.error(f"has unknown category {category!r} (one of {known})", "category")
        is_subscription = fields.boolean("is_subscription", default=category == "subscription")
        if is_subscription != (category == "subscription"):
            raise fields.error("is_subscription must be true exactly for the category 'subscription'", "category")
        product = ProductRecord(
            sku=sku,
            name=fields.text("name", 200),
            category=category,
            model_number=fields.text("model_number", 40),
            price_cents=fields.cents("price"),
            currency=fields.currency(),
            description=fields.text("description"),
            specs=MappingProxyType(fields.mapping("specs")),
            aliases=tuple(alias.lower() for alias in fields.str_list("aliases")),
            compatible_with=fields.str_list("compatible_with"),
            warranty_months=fields.integer("warranty_months", minimum=0, default=0 if is_subscription else 24),
            is_subscription=is_subscription,
        )
        for alias in product.aliases:
            if alias in alias_owner:
                raise fields.error(f"alias {alias!r} is already used by product {alias_owner[alias]!r}", "aliases")
            alias_owner[alias] = sku
        products[sku] = product
        references.extend((fields, other) for other in product.compatible_with)
    for fields, other in references:
        if other not in products:
            raise fields.error(f"compatible_with unknown SKU {other!r}", "compatible_with")
    return tuple(products.values())


def load_stores(data_dir: Path) -> tuple[StoreRecord, ...]:
    """Parse ``catalog/stores.yml``.

    Args:
        data_dir: The data folder.

    Returns:
        The stores, in file order.

    Raises:
        DataFileError: On a malformed entry or a duplicate store id.
    """
    path = data_dir / STORES_FILE
    shown = display_path(data_dir, path)
    stores: dict[str, StoreRecord] = {}
    for entry in read_yaml_list(path, shown, "stores"):
        fields = Fields(shown, entry.line, entry, "store")
        store_id = fields.identifier("id", 32)
        fields.label = f"store {store_id!r}"
        fields.only({"id", "name", "city", "address", "opening_hours"})
        if store_id in stores:
            raise fields.error("is listed twice (duplicate id)", "id")
        stores[store_id] = StoreRecord(
            id=store_id,
            name=fields.text("name", 200),
            city=fields.text("city", 120),
            address=fields.text("address", 300),
            opening_hours=fields.text("opening_hours", 200),
        )
    return tuple(stores.values())


def load_stock(
    data_dir: Path, stores: Mapping[str, StoreRecord], products: Mapping[str, ProductRecord]
) -> tuple[StockRecord, ...]:
    """Parse ``catalog/stock.csv`` (``store_id,sku,quantity``), one row per store and hardware product.

    Args:
        data_dir: The data folder.
        stores: Known stores by id.
        products: Known products by SKU.

    Returns:
        The stock levels, in file order.

    Raises:
        DataFileError: On an unknown store or SKU, a subscription SKU, a duplicate pair,
            a negative quantity or a missing (store, hardware product) pair.
    """
    path = data_dir / STOCK_FILE
    shown = display_path(data_dir, path)
    stock: dict[tuple[str, str], StockRecord] = {}
    for line, row in read_csv_rows(path, shown, ("store_id", "sku", "quantity")):
        fields = Fields(shown, line, row, "stock row")
        store_id, sku = fields.identifier("store_id", 32), fields.identifier("sku", 40)
        fields.label = f"stock of {sku!r} in store {store_id!r}"
        if store_id not in stores:
            raise fields.error(f"references unknown store {store_id!r}")
        if sku not in products:
            raise fields.error(f"references unknown SKU {sku!r}")
        if products[sku].is_subscription:
            raise fields.error("is for a subscription plan, which has no stock")
        if (store_id, sku) in stock:
            raise fields.error("is listed twice")
        stock[(store_id, sku)] = StockRecord(store_id, sku, fields.integer("quantity", minimum=0))
    for store_id in stores:
        for sku, product in products.items():
            if not product.is_subscription and (store_id, sku) not in stock:
                raise DataFileError(shown, None, f"no row for store {store_id!r} and SKU {sku!r}")
    return tuple(stock.values())


#: Customer channels an agent may serve (``channels`` in agents.yml; none listed: all of them).
AGENT_CHANNELS = ("web", "direct", "telegram", "slack")
#: Concurrent handoffs of an agent when agents.yml does not say.
DEFAULT_CAPACITY = 3


def _channels(fields: Fields) -> tuple[str, ...]:
    channels = fields.str_list("channels", r"[a-z]+")
    for channel in channels:
        if channel not in AGENT_CHANNELS:
            raise fields.error(f"has an unknown channel {channel!r} (one of {', '.join(AGENT_CHANNELS)})", "channels")
    return channels


def load_agents(data_dir: Path) -> tuple[AgentRecord, ...]:
    """Parse ``agents.yml``, the roster of human support agents.

    Args:
        data_dir: The data folder.

    Returns:
        The agents, in file order.

    Raises:
        DataFileError: On a malformed entry, a duplicate id, email or Slack user id.
    """
    path = data_dir / AGENTS_FILE
    shown = display_path(data_dir, path)
    agents: dict[str, AgentRecord] = {}
    emails: set[str] = set()
    slack_ids: set[str] = set()
    for entry in read_yaml_list(path, shown, "agents"):
        fields = Fields(shown, entry.line, entry, "agent")
        agent_id = fields.identifier("id", 32)
        fields.label = f"agent {agent_id!r}"
        fields.only({"id", "name", "email", "slack_user_id", "skills", "languages", "channels", "capacity", "active"})
        if agent_id in agents:
            raise fields.error("is listed twice (duplicate id)", "id")
        email = fields.text("email", 320).lower()
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", email):
            raise fields.error("has an invalid email", "email")
        if email in emails:
            raise fields.error("has an email already used by another agent", "email")
        slack_user_id = fields.optional_text("slack_user_id", 40)
        if slack_user_id is not None:
            if not re.fullmatch(r"[UW][A-Z0-9]{2,}", slack_user_id):
                raise fields.error(f"has an invalid slack_user_id {slack_user_id!r}", "slack_user_id")
            if slack_user_id in slack_ids:
                raise fields.error("has a slack_user_id already used by another agent", "slack_user_id")
            slack_ids.add(slack_user_id)
        emails.add(email)
        agents[agent_id] = AgentRecord(
            id=agent_id,
            name=fields.text("name", 200),
            email=email,
            slack_user_id=slack_user_id,
            skills=fields.str_list("skills", r"[a-z][a-z_]*"),
            languages=fields.str_list("languages", r"[a-z]{2}"),
            channels=_channels(fields),
            capacity=fields.integer("capacity", minimum=1, default=DEFAULT_CAPACITY),
            active=fields.boolean("active", default=True),
        )
    return tuple(agents.values())
