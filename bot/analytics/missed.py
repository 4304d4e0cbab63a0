"""The customer messages Rasa did not understand, read from its tracker store (read-only).

The training candidates (:mod:`bot.analytics.candidates`) need the words, which the analytics
tables never hold (:func:`bot.analytics.store.import_turns` copies only intent and
confidence), so they come from Rasa's ``events`` table: ``type_name = 'user'``, JSON ``data``
with ``text`` and ``parse_data.intent``. A SQLite store is opened with ``mode=ro`` and a
PostgreSQL one in read-only transactions: nothing here can write to it.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from bot.analytics.handled import is_trigger, next_actions, taken_as
from bot.analytics.metrics import FALLBACK_INTENT

#: The FallbackClassifier's threshold when ``config.yml`` does not name one (Rasa's default).
RASA_DEFAULT_THRESHOLD = 0.3
_BATCH = 2000


@dataclass(frozen=True)
class MissedMessage:
    """A customer message the bot did not understand: its text, when, and Rasa's guess (never who wrote it)."""

    text: str
    at: dt.datetime
    intent: str | None
    confidence: float


def fallback_threshold(config_path: Path) -> float:
    """The ``threshold`` of the FallbackClassifier in Rasa's ``config.yml`` (0.3, Rasa's default, if none).

    Raises:
        ValueError: The file cannot be read or has no ``pipeline`` list.
    """
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read Rasa's config {config_path}: {error}") from error
    pipeline = config.get("pipeline") if isinstance(config, dict) else None
    if not isinstance(pipeline, list):
        raise ValueError(f"{config_path}: no pipeline list")
    for component in pipeline:
        if isinstance(component, dict) and component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", RASA_DEFAULT_THRESHOLD))
    return RASA_DEFAULT_THRESHOLD


def is_not_understood(intent: str | None, confidence: float, threshold: float) -> bool:
    """Whether Rasa did not understand a message: ``nlu_fallback``, or less sure than the fallback threshold."""
    return intent == FALLBACK_INTENT or confidence < threshold


def read_missed(tracker_url: str, since: dt.datetime, until: dt.datetime, threshold: float) -> list[MissedMessage]:
    """The customer messages of [``since``, ``until``) (naive UTC) Rasa did not understand, in order.

    Button payloads are included (their text starts with "/"); leaving them out is
    :func:`bot.analytics.candidates.select`'s job. A SQLite file that does not exist, or a
    store without an ``events`` table, holds no messages (and is not created).
    """
    tracker = _open_read_only(tracker_url)
    if tracker is None:
        return []
    bounds = {"since": _epoch(since), "until": _epoch(until)}
    found: list[MissedMessage] = []
    try:
        if not sa.inspect(tracker).has_table("events"):
            return []
        after = -1
        while True:
            with tracker.connect() as connection, connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(sa.text("SET TRANSACTION READ ONLY"))
                rows = connection.execute(
                    sa.text(
                        "SELECT id, sender_id, timestamp, intent_name, data FROM events WHERE type_name = 'user' "
                        "AND timestamp >= :since AND timestamp < :until AND id > :after ORDER BY id LIMIT :limit"
                    ),
                    {**bounds, "after": after, "limit": _BATCH},
                ).all()
                handled_by = next_actions(connection, rows)
            if not rows:
                return found
            for row in rows:
                message = _message(row, threshold, handled_by.get(int(row.id)))
                if message is not None:
                    found.append(message)
            after = int(rows[-1].id)
    finally:
        tracker.dispose()


def _open_read_only(tracker_url: str) -> Engine | None:
    url = sa.engine.make_url(tracker_url)
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, poolclass=NullPool)
    if not url.database or url.database == ":memory:":
        return None
    path = Path(url.database)
    if not path.is_file():
        return None
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool)


def _epoch(at: dt.datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)).timestamp()


def _message(row: Any, threshold: float, action: str | None = None) -> MissedMessage | None:
    """The row's message if the bot did not understand it; None if it did, or the row holds no text.

    A trigger ("EXTERNAL: …") is no message; a message a guide or a form took (a typed step answer,
    a return reason) was understood where it mattered (:mod:`bot.analytics.handled`).
    """
    try:
        data = json.loads(row.data or "{}")
    except ValueError:
        return None
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip():
        return None
    parse_data = data.get("parse_data")
    intent = parse_data.get("intent") if isinstance(parse_data, dict) else None
    intent = intent if isinstance(intent, dict) else {}
    name = row.intent_name or intent.get("name")
    try:
        confidence = float(intent.get("confidence") or 0.0)
    except (TypeError, ValueError):
        confidence = 0.0
    if is_trigger(text) or not is_not_understood(name, confidence, threshold):
        return None
    if action is not None and taken_as(FALLBACK_INTENT, action) != FALLBACK_INTENT:
        return None  # a guide or a form took it
    at = dt.datetime.fromtimestamp(float(row.timestamp), dt.timezone.utc).replace(tzinfo=None)
    return MissedMessage(text=text, at=at, intent=name, confidence=confidence)
