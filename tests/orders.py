"""Orders made for a test, dated relative to today (return windows and refunds are real dates)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.db.models import Customer, Order, OrderItem, OrderStatus

TODAY = dt.date.today()


def add_order(
    engine: Engine,
    customer_id: str,
    status: str,
    *,
    delivered_days_ago: int | None = None,
    returnable: bool = True,
    method: str = "paypal",
) -> str:
    """A new order of the customer (2 × €60.00 and 1 × €9.99, total €129.99); returns its number.

    ``returnable=False`` marks both lines as not returnable (e.g. cut to length).
    """
    now = dt.datetime.combine(TODAY, dt.time(9, 0))
    with engine.begin() as connection:
        taken = set(connection.execute(select(Order.number)).scalars())
        number = next(str(n) for n in range(190000, 199999) if str(n) not in taken)
        delivered = now - dt.timedelta(days=delivered_days_ago) if delivered_days_ago is not None else None
        connection.execute(
            Order.__table__.insert().values(
                number=number,
                customer_id=customer_id,
                status=OrderStatus(status).value,
                placed_at=now - dt.timedelta(days=(delivered_days_ago or 0) + 3),
                total_cents=12999,
                currency="EUR",
                shipped_at=now - dt.timedelta(days=(delivered_days_ago or 0) + 1) if status != "processing" else None,
                delivered_at=delivered,
                status_changed_at=delivered or now,
                payment_method=method,
                shipping_address="Old Street 1, 1000 AA Amsterdam",
            )
        )
        connection.execute(
            OrderItem.__table__.insert(),
            [
                {
                    "order_number": number,
                    "sku": sku,
                    "quantity": qty,
                    "unit_price_cents": price,
                    "returnable": returnable,
                }
                for sku, qty, price in (("NR-AX3000-EU", 2, 6000), ("NX-C6-2M-EU", 1, 999))
            ],
        )
    return number


def add_customer(engine: Engine, country: str = "NL") -> tuple[str, str]:
    """A new customer of the test's own (id, email), so that changes to them touch no demo customer."""
    suffix = uuid.uuid4().hex[:8]
    customer_id, email = f"T{suffix}", f"test.{suffix}@example.org"
    with engine.begin() as connection:
        connection.execute(
            Customer.__table__.insert().values(
                id=customer_id,
                name=f"Test Customer {suffix}",
                email=email,
                phone="+31 20 555 0100",
                city="Amsterdam" if country == "NL" else "Lyon",
                country=country,
                created_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
            )
        )
    return customer_id, email
