"""Lazily built services for the action server (one of each per process, from settings)."""

from __future__ import annotations

import functools

from bot.catalog.answers import ProductAnswers
from bot.db.engine import create_db_engine
from bot.diagnostics import DiagnosticTree, load_guides
from bot.handoff.requests import HandoffRequests
from bot.settings import load_settings


@functools.lru_cache(maxsize=1)
def handoff_requests() -> HandoffRequests:
    """The handoff service, built on first use from the ``BOT_*`` environment."""
    settings = load_settings()
    return HandoffRequests(create_db_engine(settings.database_url))


@functools.lru_cache(maxsize=1)
def guides() -> dict[str, DiagnosticTree]:
    """The troubleshooting guides of ``data/diagnostics`` (validated by ``bot validate``)."""
    return load_guides(load_settings().data_dir / "diagnostics")


@functools.lru_cache(maxsize=1)
def product_answers() -> ProductAnswers:
    """Answers to product questions, from ``data/catalog`` and the texts in ``data/texts.yml``."""
    return ProductAnswers.load(load_settings().data_dir)
