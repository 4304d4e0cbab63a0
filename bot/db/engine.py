"""Database engine and session construction (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

#: Seconds to wait for a PostgreSQL connection, and for one statement, before failing (a 503, never a hang).
CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 15_000
#: Seconds to wait for a free pooled connection.
POOL_TIMEOUT_S = 10
#: Connections kept open to a SQLite file (the worker threads that run statements), and the extra
#: ones opened under a burst.
SQLITE_POOL_SIZE = 8
SQLITE_POOL_OVERFLOW = 16


def create_db_engine(url: str) -> Engine:
    """Build an engine for ``url``; SQLite gets foreign keys, WAL and a created parent folder.

    Statement parameters are never shown in errors or logs (``hide_parameters``): they are
    customers' messages, addresses and codes. PostgreSQL connections and statements time out.
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"future": True, "hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            # SQLAlchemy 1.4 gives a SQLite file a NullPool: a new connection (and its PRAGMAs) per
            # session, a fifth of the gateway's CPU per turn (docs/performance.md). Connections are
            # kept instead, as SQLAlchemy 2 does; a file has no server that could drop them.
            kwargs.update(poolclass=QueuePool, pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_OVERFLOW)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    elif parsed.get_backend_name() == "postgresql":
        kwargs["pool_pre_ping"] = True  # a server restart leaves dead connections in the pool
        kwargs["pool_timeout"] = POOL_TIMEOUT_S
        kwargs["connect_args"] = {
            "connect_timeout": CONNECT_TIMEOUT_S,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        }
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(bind=engine, future=True, expire_on_commit=False)
