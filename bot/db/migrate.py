"""Schema migrations without an alembic.ini: upgrade, downgrade and inspect a database by URL.

The Alembic scripts live in ``bot/db/migrations`` (``versions/0001_initial.py`` onwards).
To add a revision after changing :mod:`bot.db.models`, upgrade a scratch database to
head and autogenerate against it::

    from alembic import command
    from bot.db.migrate import make_config, upgrade

    upgrade("sqlite:///var/scratch.db")
    command.revision(make_config("sqlite:///var/scratch.db"), "what changed", autogenerate=True)

then read and fix the generated file in ``versions/`` by hand: name new constraints, and
check that it works on SQLite (batch mode) and PostgreSQL (``tests/db/test_migrations.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from bot.db.engine import create_db_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

_LOGGER = logging.getLogger(__name__)


def make_config(database_url: str) -> Config:
    """Build the Alembic configuration for ``database_url`` (no ini file needed).

    Args:
        database_url: An SQLAlchemy URL (``sqlite:///...`` or ``postgresql://...``).

    Returns:
        A config whose ``script_location`` is this package's migrations folder.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an option: ini interpolation would mangle a "%" in a password.
    config.attributes["database_url"] = database_url
    return config


@contextmanager
def _connection(database_url: str) -> Iterator[Connection]:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # Batch migrations copy and drop tables; SQLite must not enforce or cascade
                # foreign keys meanwhile. The pragma only works outside a transaction.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            yield connection
    finally:
        engine.dispose()


def _run(database_url: str, action: str, revision: str) -> None:
    config = make_config(database_url)
    with _connection(database_url) as connection:
        config.attributes["connection"] = connection
        before = MigrationContext.configure(connection).get_current_revision()
        if action == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)
        connection.commit()
        after = MigrationContext.configure(connection).get_current_revision()
    _LOGGER.info("db.%s dialect=%s from=%s to=%s", action, connection.dialect.name, before, after)


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the schema of ``database_url`` to ``revision`` (creating it on an empty database).

    Args:
        database_url: An SQLAlchemy URL; an SQLite file's folder is created if needed.
        revision: Target revision, ``"head"`` by default.
    """
    _run(database_url, "upgrade", revision)


def downgrade(database_url: str, revision: str) -> None:
    """Downgrade the schema of ``database_url`` to ``revision`` (``"base"`` drops every table).

    Args:
        database_url: An SQLAlchemy URL.
        revision: Target revision, e.g. ``"base"`` or ``"-1"``.
    """
    _run(database_url, "downgrade", revision)


def current_revision(database_url: str) -> str | None:
    """Return the revision the database is at, or None when it has never been migrated.

    Args:
        database_url: An SQLAlchemy URL.

    Returns:
        The current revision id (e.g. ``"0001_initial"``), or None.
    """
    with _connection(database_url) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """Return the newest revision of the migration scripts (what ``upgrade`` goes to).

    Returns:
        The head revision id, or None if there are no scripts.
    """
    return ScriptDirectory.from_config(make_config("sqlite://")).get_current_head()
