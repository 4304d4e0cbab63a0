"""Customer records: orders, devices and warranty, subscriptions, invoices of a verified customer.

Pick a backend with :func:`build_records`: ``sql`` reads the project database,
``http`` calls a company's record system implementing docs/records-api.md. Wrap it in
:class:`AuditedRecords` so that every lookup is audited.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bot.records.audit import AuditedRecords
from bot.records.backend import RecordsBackend, RecordsUnavailable, normalise_order_number
from bot.records.breaker import CircuitBreaker
from bot.records.http import HttpRecords
from bot.records.model import DeviceInfo, InvoiceInfo, OrderInfo, OrderLine, SubscriptionInfo
from bot.records.sql import SqlRecords
from bot.settings import Settings

__all__ = [
    "AuditedRecords",
    "CircuitBreaker",
    "DeviceInfo",
    "HttpRecords",
    "InvoiceInfo",
    "OrderInfo",
    "OrderLine",
    "RecordsBackend",
    "RecordsUnavailable",
    "SqlRecords",
    "SubscriptionInfo",
    "build_records",
    "normalise_order_number",
]


def build_records(settings: Settings, engine: Engine) -> RecordsBackend:
    """The records backend the settings choose (no network call is made here).

    Args:
        settings: ``records_backend`` (``sql`` or ``http``), and for ``http`` the
            ``records_url``, ``records_token`` and ``records_timeout_s``.
        engine: The project database, read by the ``sql`` backend.

    Raises:
        ValueError: The backend name is unknown, or ``http`` has no URL.
    """
    if settings.records_backend == "sql":
        return SqlRecords(engine)
    if settings.records_backend == "http":
        if not settings.records_url:
            raise ValueError("BOT_RECORDS_URL must be set when BOT_RECORDS_BACKEND=http")
        return HttpRecords(settings.records_url, settings.records_token, timeout_s=settings.records_timeout_s)
    raise ValueError(f"unknown records backend {settings.records_backend!r}")
