"""The customers the simulation speaks as: demo customers with orders, and new customers with new orders.

New customers and orders are written to the database as the company's shop would write them
(``SIM…`` ids, ``@example.org`` addresses), so that cancelling or returning one changes no demo
customer. Order dates are the order's own business dates, relative to today; conversations are
never written here.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.db.models import Customer, Order, OrderItem, OrderStatus, Product, utcnow

#: Prefix of the ids of customers the simulation created (never taken for a demo customer).
SIMULATED_PREFIX = "SIM"
#: The order numbers' range for new orders (6 digits starting with 1, as the bot expects).
ORDER_NUMBERS = range(170000, 200000)
_CITIES = (("Berlin", "DE"), ("Hamburg", "DE"), ("Vienna", "AT"), ("Amsterdam", "NL"), ("Lyon", "FR"))


@dataclass(frozen=True)
class KnownCustomer:
    """A customer of the database and the numbers of their orders."""

    id: str
    orders: tuple[str, ...]


class CustomerRecords:
    """Reads demo customers and adds new customers and orders (synchronous; call from a thread)."""

    def __init__(self, engine: Engine) -> None:
        """Use the gateway's database ``engine``."""
        self._engine = engine
        self._lock = threading.Lock()  # two conversations must not take the same new order number

    def demo_customers(self) -> list[KnownCustomer]:
        """Customers with at least one order who were not made by a simulation, by id."""
        query = (
            sa.select(Order.customer_id, Order.number)
            .where(~Order.customer_id.startswith(SIMULATED_PREFIX))
            .order_by(Order.customer_id, Order.number)
        )
        orders: dict[str, list[str]] = {}
        with self._engine.connect() as connection:
            for customer_id, number in connection.execute(query):
                orders.setdefault(str(customer_id), []).append(str(number))
        return [KnownCustomer(customer_id, tuple(numbers)) for customer_id, numbers in orders.items()]

    def add_customer(self, rng: random.Random) -> str:
        """A new customer; their id."""
        suffix = uuid.uuid4().hex[:10].upper()
        city, country = _CITIES[rng.randrange(len(_CITIES))]
        with self._engine.begin() as connection:
            connection.execute(
                sa.insert(Customer).values(
                    id=f"{SIMULATED_PREFIX}{suffix}",
                    name=f"Simulated Customer {suffix[:4]}",
                    email=f"sim.{suffix.lower()}@example.org",
                    phone=None,
                    city=city,
                    country=country,
                    created_at=utcnow(),
                )
            )
        return f"{SIMULATED_PREFIX}{suffix}"

    def add_order(self, customer_id: str, status: OrderStatus, rng: random.Random, delivered_days_ago: int = 0) -> str:
        """A new order of one or two catalogue products, placed a few days ago; its number.

        ``delivered_days_ago`` dates a delivered order (inside the return window, say).
        """
        now = utcnow().replace(microsecond=0)
        with self._engine.connect() as connection:
            products = connection.execute(
                sa.select(Product.sku, Product.price_cents)
                .where(Product.is_subscription.is_(False))
                .order_by(Product.sku)
            ).all()
        if not products:
            raise ValueError("the database has no products (python -m bot seed)")
        lines = [products[rng.randrange(len(products))] for _ in range(rng.choice((1, 1, 2)))]
        delivered = now - dt.timedelta(days=delivered_days_ago) if status is OrderStatus.DELIVERED else None
        placed = (delivered or now) - dt.timedelta(days=3, hours=rng.randrange(24))
        shipped = placed + dt.timedelta(days=1) if status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED) else None
        with self._lock, self._engine.begin() as connection:
            taken = set(
                connection.execute(
                    sa.select(Order.number).where(Order.number.between(str(ORDER_NUMBERS[0]), str(ORDER_NUMBERS[-1])))
                ).scalars()
            )
            number = next((str(n) for n in ORDER_NUMBERS if str(n) not in taken), None)
            if number is None:
                raise ValueError("no free order number left for simulated orders")
            connection.execute(
                sa.insert(Order).values(
                    number=number,
                    customer_id=customer_id,
                    status=status.value,
                    placed_at=placed,
                    total_cents=sum(price for _, price in lines),
                    currency="EUR",
                    carrier="DHL" if shipped else None,
                    tracking_number=f"00340{rng.randrange(10**14, 10**15)}" if shipped else None,
                    shipped_at=shipped,
                    delivered_at=delivered,
                    status_changed_at=delivered or shipped or placed,
                    payment_method=rng.choice(("card", "paypal", "klarna")),
                    shipping_address="Simulated Street 1, 10115 Berlin",
                )
            )
            connection.execute(
                sa.insert(OrderItem),
                [
                    {"order_number": number, "sku": sku, "quantity": 1, "unit_price_cents": price, "returnable": True}
                    for sku, price in lines
                ],
            )
        return number
