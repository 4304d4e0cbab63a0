"""Lazily built services for the action server (one engine per process, from settings)."""

from __future__ import annotations

import functools

from bot.db.engine import create_db_engine
from bot.handoff.requests import HandoffRequests
from bot.settings import load_settings


@functools.lru_cache(maxsize=1)
def handoff_requests() -> HandoffRequests:
    """The handoff service, built on first use from the ``BOT_*`` environment."""
    settings = load_settings()
    return HandoffRequests(create_db_engine(settings.database_url))
