"""Lazily built services for the action server (one of each per process, from settings)."""

from __future__ import annotations

import functools

from sqlalchemy.engine import Engine

from bot.catalog.answers import ProductAnswers
from bot.db.engine import create_db_engine
from bot.diagnostics import DiagnosticTree, load_guides
from bot.handoff.config import HandoffConfig, load_handoff_config
from bot.handoff.hours import BusinessHours, load_hours
from bot.handoff.requests import HandoffRequests
from bot.identity.linking import LinkingService
from bot.identity.wiring import build_linking
from bot.records import RecordsBackend, build_records
from bot.settings import load_settings


@functools.lru_cache(maxsize=1)
def engine() -> Engine:
    """The project database (one engine per process)."""
    return create_db_engine(load_settings().database_url)


@functools.lru_cache(maxsize=1)
def handoff_requests() -> HandoffRequests:
    """The handoff service."""
    return HandoffRequests(engine())


@functools.lru_cache(maxsize=1)
def guides() -> dict[str, DiagnosticTree]:
    """The troubleshooting guides of ``data/diagnostics`` (validated by ``bot validate``)."""
    return load_guides(load_settings().data_dir / "diagnostics")


@functools.lru_cache(maxsize=1)
def product_answers() -> ProductAnswers:
    """Answers to product questions, from ``data/catalog`` and the texts in ``data/texts.yml``."""
    return ProductAnswers.load(load_settings().data_dir)


@functools.lru_cache(maxsize=1)
def records() -> RecordsBackend:
    """The customer-records backend the settings choose (SQL or the HTTP records API)."""
    return build_records(load_settings(), engine())


@functools.lru_cache(maxsize=1)
def linking() -> LinkingService:
    """Account linking by emailed one-time codes."""
    return build_linking(load_settings(), engine())


@functools.lru_cache(maxsize=1)
def handoff_config() -> HandoffConfig:
    """Handoff triggers from ``data/handoff.yml`` (validated by ``bot validate``)."""
    return load_handoff_config(load_settings().data_dir / "handoff.yml")


@functools.lru_cache(maxsize=1)
def business_hours() -> BusinessHours:
    """The support team's hours (``data/business_hours.yml``)."""
    return load_hours(load_settings().data_dir / "business_hours.yml")
