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
from bot.records.policy import Policy
from bot.records.sql import SqlRecords
from bot.settings import RecordsSettings

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


def build_records(settings: RecordsSettings, engine: Engine, policy: Policy | None = None) -> RecordsBackend:
    """The records backend the settings choose (no network call is made here).

    Args:
        settings: ``backend`` (``sql`` or ``http``), and for ``http`` the ``url``, ``token``
            and ``timeout_s``.
        engine: The project database, read by the ``sql`` backend.
        policy: The ``sql`` backend's self-service rules (default: the project's ``data/records/policy.yml``).

    Raises:
        ValueError: The backend name is unknown, or ``http`` has no URL.
    """
    if settings.backend == "sql":
        return SqlRecords(engine, policy)
    if settings.backend == "http":
        if not settings.url:
            raise ValueError("BOT_RECORDS_URL must be set when BOT_RECORDS_BACKEND=http")
        return HttpRecords(settings.url, settings.token, timeout_s=settings.timeout_s)
    raise ValueError(f"unknown records backend {settings.backend!r}")
