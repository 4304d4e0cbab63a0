"""Fixtures for the custom actions: the action server's services on a seeded database.

Every test installs its own :class:`actions.services.Services` with ``actions.services.use``.
The parts read only from the data files (guides, catalog answers, handoff.yml, business hours)
are immutable and the same for every test, and parsing them takes most of a second, so they are
read once per session and handed to each test's ``Services`` (``functools.cached_property``
keeps a built part in the instance's ``__dict__``). Everything else (the database, records,
linking, handoff requests) is built per test from the test's own settings, on a database
migrated and seeded once per session (see :class:`SeededDatabases`), on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.pool import NullPool

from actions.services import Services, use
from bot.analytics.events import MemorySink
from bot.db.engine import create_db_engine
from bot.db.migrate import upgrade
from bot.db.seed import DemoData, seed_database
from bot.diagnostics import DiagnosticTree
from bot.settings import Settings, load_settings
from tests.actions.helpers import DATA_PARTS, Mailbox, with_data_parts


@pytest.fixture(scope="session")
def data_parts(tmp_path_factory: pytest.TempPathFactory) -> Services:
    """A Services whose data-file parts are loaded (never its database)."""
    loaded = Services(load_settings({"BOT_ENV": "test", "BOT_VAR_DIR": str(tmp_path_factory.mktemp("data-parts"))}))
    for part in DATA_PARTS:
        getattr(loaded, part)
    return loaded


class SeededDatabases:
    """Databases migrated and seeded with the demo data once per session, handed out fresh to each test.

    Migrating and seeding a new database for every test would cost most of the suite's time.
    SQLite: each test gets a copy of a seeded file. PostgreSQL (where even an empty
    ``CREATE DATABASE`` takes about half a second): one database for the session, emptied
    (``TRUNCATE ... RESTART IDENTITY``) and seeded again before each test, so every test
    starts from the same rows and ids.
    """

    def __init__(self, folder: Path, demo_data: DemoData) -> None:
        """Keep the SQLite template in ``folder``."""
        self._folder = folder
        self._demo_data = demo_data
        self._sqlite: Path | None = None
        self._postgres: dict[str, str] = {}  # admin URL -> database URL

    def sqlite(self, path: Path) -> str:
        """The URL of a seeded SQLite database at ``path``."""
        if self._sqlite is None:
            template = self._folder / "seeded.db"
            url = f"sqlite:///{template}"
            upgrade(url)
            self._seed(url)
            self._sqlite = template
        shutil.copyfile(self._sqlite, path)
        return f"sqlite:///{path}"

    def postgresql(self, admin_url: str) -> str:
        """The URL of the session's PostgreSQL database on the server of ``admin_url``, back to the seeded state."""
        url = self._postgres.get(admin_url)
        if url is None:
            name = f"bot_actions_{uuid.uuid4().hex[:12]}"
            with _admin(admin_url) as admin, admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            url = self._postgres[admin_url] = (
                make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            )
            upgrade(url)
        else:
            engine = create_engine(url, poolclass=NullPool)
            try:
                names = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
                tables = ", ".join(engine.dialect.identifier_preparer.quote(name) for name in names)
                with engine.begin() as connection:
                    connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            finally:
                engine.dispose()
        self._seed(url)
        return url

    def _seed(self, url: str) -> None:
        engine = create_db_engine(url)
        try:
            seed_database(engine, self._demo_data)
        finally:
            engine.dispose()

    def close(self) -> None:
        """Drop the PostgreSQL databases."""
        for admin_url, url in self._postgres.items():
            with _admin(admin_url) as admin, admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))


@contextlib.contextmanager
def _admin(admin_url: str) -> Iterator[Engine]:
    engine = create_engine(
        admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args={"connect_timeout": 3}
    )
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def seeded_databases(tmp_path_factory: pytest.TempPathFactory, demo_data: DemoData) -> Iterator[SeededDatabases]:
    """The seeded databases of this session."""
    databases = SeededDatabases(tmp_path_factory.mktemp("seeded"), demo_data)
    yield databases
    databases.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded_database_url(request: pytest.FixtureRequest, tmp_path: Path, seeded_databases: SeededDatabases) -> str:
    """A migrated database holding the demo data and nothing else, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return seeded_databases.sqlite(tmp_path / "bot.db")
    admin_url: str = request.getfixturevalue("postgres_admin_url")  # skips (or fails) without PostgreSQL
    return seeded_databases.postgresql(admin_url)


@pytest.fixture
def services(settings: Settings, seeded_database_url: str, data_parts: Services) -> Iterator[Services]:
    """The services every action uses, on a database seeded with the demo data (SQLite and PostgreSQL)."""
    built = with_data_parts(Services(settings.with_overrides(database_url=seeded_database_url)), data_parts)
    with use(built):
        yield built
    built.close()


@pytest.fixture
def offline_services(settings: Settings, data_parts: Services) -> Iterator[Services]:
    """Services for actions that read only the data files: no database is ever built.

    An action that touched the database would fail on the empty, unmigrated SQLite file, and the
    check after the test fails it too.
    """
    built = with_data_parts(Services(settings), data_parts)
    built.__dict__["analytics"] = MemorySink()  # outcome events are kept for the test to look at
    with use(built):
        yield built
    assert "engine" not in built.__dict__, "the action used the database"


@pytest.fixture
def guides(data_parts: Services) -> dict[str, DiagnosticTree]:
    """The troubleshooting guides of data/diagnostics."""
    return data_parts.guides


@pytest.fixture
def maildir(settings: Settings) -> Mailbox:
    """The mail folder where the development mailer (BOT_SMTP_HOST=maildir) writes the linking codes."""
    assert settings.smtp.uses_maildir
    return Mailbox(settings.paths.var_dir / "mail")
