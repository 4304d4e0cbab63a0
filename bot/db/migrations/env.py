"""Alembic environment for the bot's database; driven by :mod:`bot.db.migrate`.

:func:`bot.db.migrate.upgrade` and friends pass an open connection in
``config.attributes["connection"]``. Without one (e.g. ``alembic -c <ini>``), the URL is
read from ``config.attributes["database_url"]`` or the ``sqlalchemy.url`` option.
SQLite runs in batch mode (``render_as_batch``), since it cannot alter tables in place.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from bot.db.engine import create_db_engine
from bot.db.models import Base

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: use bot.db.migrate or set sqlalchemy.url")
    return str(url)


def _run_offline() -> None:
    url = _database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    engine = create_db_engine(_database_url())
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # as bot.db.migrate does
                connection.commit()
            _run_with(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
