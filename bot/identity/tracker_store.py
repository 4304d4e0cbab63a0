"""Rasa's SQL tracker store, read and erased by conversation: SQLite or PostgreSQL, named by one URL.

Rasa's ``SQLTrackerStore`` keeps every dialogue event as a row of a table ``events``
(``sender_id`` is the conversation id; ``type_name``, ``timestamp``, ``intent_name``,
``action_name`` and the event as JSON in ``data``). The URL is the setting
``BOT_TRACKER_URL``, which endpoints.yml hands to Rasa. A SQLite file that does not exist, or
a database without the table, holds nothing (it is never created by looking); a database
that cannot be reached raises :class:`TrackerStoreUnavailable`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

TRACKER_TABLE = "events"


class TrackerStoreUnavailable(RuntimeError):
    """Rasa's tracker store could not be reached (the message names it without a password)."""


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def _tracker(url: str | None) -> Iterator[Engine | None]:
    """An engine on the tracker database, or None when it is not configured or does not exist.

    Raises:
        TrackerStoreUnavailable: the database cannot be reached.
    """
    if not url:
        yield None
        return
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or not Path(database).is_file():
            yield None  # never create an empty tracker file by connecting to it
            return
    engine = create_engine(url, poolclass=NullPool, future=True)
    try:
        try:
            present = inspect(engine).has_table(TRACKER_TABLE)
        except SQLAlchemyError as exc:
            raise TrackerStoreUnavailable(
                f"the tracker store at {_shown(url)} cannot be reached ({type(exc).__name__})"
            ) from exc
        yield engine if present else None
    finally:
        engine.dispose()


def check_tracker_store(url: str | None, consequence: str) -> None:
    """Raise :class:`TrackerStoreUnavailable` (its message ending with ``consequence``) unless reachable."""
    try:
        with _tracker(url):
            pass
    except TrackerStoreUnavailable as exc:
        raise TrackerStoreUnavailable(f"{exc}; {consequence}") from exc


def tracker_events(url: str | None, conversation_ids: Sequence[str]) -> tuple[str, list[dict[str, Any]]]:
    """The conversations' events, and how the store was found (``read``, ``missing``, ``not_configured``)."""
    if not url:
        return "not_configured", []
    with _tracker(url) as engine:
        if engine is None:
            return "missing", []
        if not conversation_ids:
            return "read", []
        columns = "sender_id, type_name, timestamp, intent_name, action_name, data"
        query = text(
            f"SELECT {columns} FROM {TRACKER_TABLE} "  # noqa: S608 (constant names)
            "WHERE sender_id IN :ids ORDER BY sender_id, timestamp, id"
        ).bindparams(bindparam("ids", expanding=True))
        with engine.connect() as connection:
            rows = connection.execute(query, {"ids": list(conversation_ids)}).mappings().all()
    return "read", [
        {
            "sender_id": row["sender_id"],
            "type_name": row["type_name"],
            "timestamp": row["timestamp"],
            "intent_name": row["intent_name"],
            "action_name": row["action_name"],
            "data": _json_or_text(row["data"]),
        }
        for row in rows
    ]


def _json_or_text(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def delete_tracker_events(url: str | None, conversation_ids: Sequence[str]) -> int:
    """Delete the conversations' events; how many were deleted."""
    if not conversation_ids:
        return 0
    try:
        with _tracker(url) as engine:
            if engine is None:
                return 0
            query = text(f"DELETE FROM {TRACKER_TABLE} WHERE sender_id IN :ids").bindparams(  # noqa: S608
                bindparam("ids", expanding=True)
            )
            with engine.begin() as connection:
                return int(connection.execute(query, {"ids": list(conversation_ids)}).rowcount or 0)
    except (TrackerStoreUnavailable, SQLAlchemyError) as exc:
        raise TrackerStoreUnavailable(
            f"the tracker store's events could not be deleted ({type(exc).__name__}); the copies outside "
            "the database were erased, the customer's conversations were not: run the command again"
        ) from exc
