"""The engine keeps its connections to a SQLite file, each set up once (foreign keys, WAL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from bot.db.engine import create_db_engine


def test_a_sqlite_file_keeps_its_connections(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path}/nested/bot.db")
    try:
        assert isinstance(engine.pool, QueuePool)
        with engine.connect() as connection:
            first = connection.connection.dbapi_connection
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        with engine.connect() as connection:
            assert connection.connection.dbapi_connection is first  # reused, not opened again
    finally:
        engine.dispose()
