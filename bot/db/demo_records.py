"""Parsing the customer-record files: customers, devices, subscriptions and invoices (CSV)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path

from bot.db.data_fields import Fields
from bot.db.data_files import display_path, read_csv_rows
from bot.db.demo_types import (
    CustomerRecord,
    DeviceRecord,
    InvoiceRecord,
    OrderRecord,
    ProductRecord,
    SubscriptionRecord,
)
from bot.db.models import OrderStatus

CUSTOMERS_FILE = Path("records/customers.csv")
DEVICES_FILE = Path("records/devices.csv")
SUBSCRIPTIONS_FILE = Path("records/subscriptions.csv")
INVOICES_FILE = Path("records/invoices.csv")

SUBSCRIPTION_STATUSES = frozenset({"active", "paused", "cancelled", "past_due"})
INVOICE_STATUSES = frozenset({"paid", "open", "overdue", "failed"})
# Demo customers must be fictitious: only the reserved example domains (RFC 2606) are accepted.
_DEMO_EMAIL = re.compile(r"^[a-z0-9._%+\-]+@([a-z0-9\-]+\.)*example\.(com|org|net)$")
_PHONE = re.compile(r"^\+?[0-9 ()\-]{6,39}$")
_SERIAL = re.compile(r"^NX-[0-9A-Z]{2}-[0-9A-F]{6}$")


def add_months(day: dt.date, months: int) -> dt.date:
    """Return ``day`` plus ``months`` calendar months, clamped to the month's last day.

    Args:
        day: The start date.
        months: How many months to add (may be 0).

    Returns:
        For example 2026-01-31 plus 1 month is 2026-02-28.
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def load_customers(data_dir: Path) -> tuple[CustomerRecord, ...]:
    """Parse ``records/customers.csv`` (``id,name,email,phone,city,country``).

    Args:
        data_dir: The data folder.

    Returns:
        The customers, in file order.

    Raises:
        DataFileError: On a duplicate id or email, or an email outside the example domains.
    """
    path = data_dir / CUSTOMERS_FILE
    shown = display_path(data_dir, path)
    customers: dict[str, CustomerRecord] = {}
    emails: set[str] = set()
    for line, row in read_csv_rows(path, shown, ("id", "name", "email", "phone", "city", "country")):
        fields = Fields(shown, line, row, "customer")
        customer_id = fields.identifier("id", 32)
        fields.label = f"customer {customer_id!r}"
        if customer_id in customers:
            raise fields.error("is listed twice (duplicate id)")
        email = fields.text("email", 320).lower()
        if not _DEMO_EMAIL.match(email):
            raise fields.error("email must use example.com, example.org or example.net (demo data is fictitious)")
        if email in emails:
            raise fields.error("has an email already used by another customer")
        phone = fields.optional_text("phone", 40)
        if phone is not None and not _PHONE.match(phone):
            raise fields.error("has an invalid phone number")
        country = fields.optional_text("country", 2)
        if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
            raise fields.error("country must be a two-letter code such as NL")
        emails.add(email)
        customers[customer_id] = CustomerRecord(
            id=customer_id,
            name=fields.text("name", 200),
            email=email,
            phone=phone,
            city=fields.optional_text("city", 120),
            country=country,
        )
    return tuple(customers.values())


def load_devices(
    data_dir: Path,
    customers: Mapping[str, CustomerRecord],
    products: Mapping[str, ProductRecord],
    orders: Mapping[str, OrderRecord],
) -> tuple[DeviceRecord, ...]:
    """Parse ``records/devices.csv`` (``serial,customer_id,sku,order_number,purchased_on,warranty_until``).

    Args:
        data_dir: The data folder.
        customers: Known customers by id.
        products: Known products by SKU.
        orders: Known orders by number.

    Returns:
        The devices, in file order.

    Raises:
        DataFileError: On a duplicate or malformed serial, unknown references, an order of
            another customer or without the SKU, or a warranty end that is not the purchase
            date plus the product's warranty months.
    """
    path = data_dir / DEVICES_FILE
    shown = display_path(data_dir, path)
    columns = ("serial", "customer_id", "sku", "order_number", "purchased_on", "warranty_until")
    devices: dict[str, DeviceRecord] = {}
    for line, row in read_csv_rows(path, shown, columns):
        fields = Fields(shown, line, row, "device")
        serial = fields.identifier("serial", 40)
        fields.label = f"device {serial!r}"
        if not _SERIAL.match(serial):
            raise fields.error("serial must look like NX-3K-7F2A91")
        if serial in devices:
            raise fields.error("is listed twice (duplicate serial)")
        customer_id, sku = fields.identifier("customer_id", 32), fields.identifier("sku", 40)
        if customer_id not in customers:
            raise fields.error(f"references unknown customer {customer_id!r}")
        product = products.get(sku)
        if product is None or product.is_subscription:
            raise fields.error(f"references unknown hardware SKU {sku!r}")
        order_number = fields.optional_text("order_number", 20)
        purchased_on = fields.date("purchased_on")
        if order_number is not None:
            order = orders.get(order_number)
            if order is None:
                raise fields.error(f"references unknown order {order_number!r}")
            if order.customer_id != customer_id or sku not in {item.sku for item in order.items}:
                raise fields.error(f"does not match order {order_number!r} (customer or SKU differ)")
            if order.status is OrderStatus.CANCELLED or purchased_on < order.placed_at.date():
                raise fields.error(f"cannot come from order {order_number!r} (cancelled or placed later)")
        warranty_until = fields.date("warranty_until")
        expected = add_months(purchased_on, product.warranty_months)
        if warranty_until != expected:
            raise fields.error(
                f"warranty_until must be purchased_on plus {product.warranty_months} months ({expected})"
            )
        devices[serial] = DeviceRecord(serial, customer_id, sku, order_number, purchased_on, warranty_until)
    return tuple(devices.values())


def load_subscriptions(
    data_dir: Path, customers: Mapping[str, CustomerRecord], products: Mapping[str, ProductRecord]
) -> tuple[SubscriptionRecord, ...]:
    """Parse ``records/subscriptions.csv`` (``id,customer_id,plan_sku,status,started_on,next_bill_on,price,currency``).

    Args:
        data_dir: The data folder.
        customers: Known customers by id.
        products: Known products by SKU.

    Returns:
        The subscriptions, in file order.

    Raises:
        DataFileError: On unknown references or status, bad dates or prices, or a
            ``next_bill_on`` that does not fit the status.
    """
    path = data_dir / SUBSCRIPTIONS_FILE
    shown = display_path(data_dir, path)
    columns = ("id", "customer_id", "plan_sku", "status", "started_on", "next_bill_on", "price", "currency")
    subscriptions: dict[str, SubscriptionRecord] = {}
    for line, row in read_csv_rows(path, shown, columns):
        fields = Fields(shown, line, row, "subscription")
        sub_id = fields.identifier("id", 32)
        fields.label = f"subscription {sub_id!r}"
        if sub_id in subscriptions:
            raise fields.error("is listed twice (duplicate id)")
        customer_id, plan_sku = fields.identifier("customer_id", 32), fields.identifier("plan_sku", 40)
        if customer_id not in customers:
            raise fields.error(f"references unknown customer {customer_id!r}")
        plan = products.get(plan_sku)
        if plan is None or not plan.is_subscription:
            raise fields.error(f"references unknown subscription plan {plan_sku!r}")
        status = fields.text("status")
        if status not in SUBSCRIPTION_STATUSES:
            raise fields.error(f"has unknown status {status!r} (one of {', '.join(sorted(SUBSCRIPTION_STATUSES))})")
        started_on, next_bill_on = fields.date("started_on"), fields.optional_date("next_bill_on")
        if status in ("active", "past_due") and next_bill_on is None:
            raise fields.error(f"is {status} and needs next_bill_on")
        if status == "cancelled" and next_bill_on is not None:
            raise fields.error("is cancelled and must not have next_bill_on")
        if next_bill_on is not None and next_bill_on <= started_on:
            raise fields.error("has next_bill_on before started_on")
        subscriptions[sub_id] = SubscriptionRecord(
            sub_id, customer_id, plan_sku, status, started_on, next_bill_on, fields.cents("price"), fields.currency()
        )
    return tuple(subscriptions.values())


def load_invoices(
    data_dir: Path, customers: Mapping[str, CustomerRecord], subscriptions: Mapping[str, SubscriptionRecord]
) -> tuple[InvoiceRecord, ...]:
    """Parse ``records/invoices.csv`` (``number,customer_id,subscription_id,issued_on,due_on,amount,currency,status``).

    Args:
        data_dir: The data folder.
        customers: Known customers by id.
        subscriptions: Known subscriptions by id.

    Returns:
        The invoices, in file order.

    Raises:
        DataFileError: On unknown references or status, bad dates or amounts.
    """
    path = data_dir / INVOICES_FILE
    shown = display_path(data_dir, path)
    columns = ("number", "customer_id", "subscription_id", "issued_on", "due_on", "amount", "currency", "status")
    invoices: dict[str, InvoiceRecord] = {}
    for line, row in read_csv_rows(path, shown, columns):
        fields = Fields(shown, line, row, "invoice")
        number = fields.identifier("number", 20)
        fields.label = f"invoice {number!r}"
        if number in invoices:
            raise fields.error("is listed twice (duplicate number)")
        customer_id = fields.identifier("customer_id", 32)
        if customer_id not in customers:
            raise fields.error(f"references unknown customer {customer_id!r}")
        subscription_id = fields.optional_text("subscription_id", 32)
        if subscription_id is not None:
            subscription = subscriptions.get(subscription_id)
            if subscription is None:
                raise fields.error(f"references unknown subscription {subscription_id!r}")
            if subscription.customer_id != customer_id:
                raise fields.error(f"belongs to another customer than subscription {subscription_id!r}")
        status = fields.text("status")
        if status not in INVOICE_STATUSES:
            raise fields.error(f"has unknown status {status!r} (one of {', '.join(sorted(INVOICE_STATUSES))})")
        issued_on, due_on = fields.date("issued_on"), fields.date("due_on")
        if due_on < issued_on:
            raise fields.error("has due_on before issued_on")
        invoices[number] = InvoiceRecord(
            number, customer_id, subscription_id, issued_on, due_on, fields.cents("amount"), fields.currency(), status
        )
    return tuple(invoices.values())
