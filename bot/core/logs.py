"""Logging set-up shared by the gateway and the CLI."""

from __future__ import annotations

import hashlib
import logging


def configure_logging(level: str) -> None:
    """Log ``time level logger event key=value`` lines to stderr."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # httpx logs every request URL at INFO, and Telegram's URLs contain the bot token.
    for noisy in ("httpx", "httpcore", "telegram", "slack_sdk", "slack_bolt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def log_id(value: str | None) -> str:
    """A conversation or chat id as logs show it: a short hash, so logs never carry a platform's user id.

    The same id always gives the same 10 characters, so one conversation's lines can still be
    followed through the logs.
    """
    if not value:
        return "-"
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:10]
