"""Database fixtures: every database test runs on SQLite and on PostgreSQL.

Registered by ``tests/conftest.py`` (``pytest_plugins = ["tests.db_fixtures"]``).

* ``database_url``: an empty database, parametrized ``sqlite`` (a file under tmp_path) and
  ``postgresql`` (a fresh ``bot_test_<hex>`` database, dropped afterwards). PostgreSQL is
  reached at ``BOT_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``);
  when it is unreachable the PostgreSQL variant is skipped, or fails if ``BOT_REQUIRE_SERVICES=1``.
* ``migrated_database_url``: the same, upgraded to the head revision.
* ``migrated_engine``: an engine on it (disposed afterwards).
* ``seeded_engine``: an engine on a migrated database holding the demo data.
* ``demo_data``: the parsed ``data/`` folder (once per session).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from bot.db.engine import create_db_engine
from bot.db.migrate import upgrade
from bot.db.seed import DemoData, load_demo_data, seed_database
from tests.services import require

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _admin_engine(admin_url: str) -> Engine:
    return create_engine(
        admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args={"connect_timeout": 3}
    )


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """URL of the PostgreSQL maintenance database; skips (or fails) when it is unreachable."""
    admin_url = os.environ.get("BOT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_ADMIN_URL)
    parsed = make_url(admin_url)
    engine = _admin_engine(admin_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        error = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        require(False, f"PostgreSQL not reachable at {parsed.host}:{parsed.port or 5432}: {error}")
    finally:
        engine.dispose()
    return admin_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on SQLite or PostgreSQL (a fresh one per test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    name = f"bot_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(admin_url)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def migrated_database_url(database_url: str) -> str:
    """The database of ``database_url``, upgraded to the head revision."""
    upgrade(database_url)
    return database_url


@pytest.fixture
def migrated_engine(migrated_database_url: str) -> Iterator[Engine]:
    """An engine on a migrated, empty database."""
    engine = create_db_engine(migrated_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def demo_data() -> DemoData:
    """The demo company's data files, parsed and checked."""
    return load_demo_data(DATA_DIR)


@pytest.fixture
def seeded_engine(migrated_engine: Engine, demo_data: DemoData) -> Engine:
    """An engine on a migrated database holding the demo data."""
    seed_database(migrated_engine, demo_data)
    return migrated_engine
