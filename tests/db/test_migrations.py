"""The Alembic migrations build exactly the schema of bot/db/models.py, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from bot.db.engine import create_db_engine
from bot.db.migrate import current_revision, downgrade, head_revision, upgrade
from bot.db.models import Base


def _schema_diffs(database_url: str) -> list[Any]:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _table_names(database_url: str) -> set[str]:
    engine = create_db_engine(database_url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_head_is_the_latest_revision() -> None:
    assert head_revision() == "0014_notifications"


def test_upgrade_builds_the_models_schema(migrated_database_url: str) -> None:
    assert current_revision(migrated_database_url) == head_revision()
    assert _table_names(migrated_database_url) == set(Base.metadata.tables) | {"alembic_version"}
    assert _schema_diffs(migrated_database_url) == []


def test_upgrade_twice_is_a_no_op(migrated_database_url: str) -> None:
    upgrade(migrated_database_url)
    assert current_revision(migrated_database_url) == head_revision()
    assert _schema_diffs(migrated_database_url) == []


def test_downgrade_to_base_then_upgrade(migrated_database_url: str) -> None:
    downgrade(migrated_database_url, "base")
    assert current_revision(migrated_database_url) is None
    assert _table_names(migrated_database_url) <= {"alembic_version"}
    # The comparison is not vacuous: an empty database differs by every table.
    added = {diff[1].name for diff in _schema_diffs(migrated_database_url) if diff[0] == "add_table"}
    assert added == set(Base.metadata.tables)

    upgrade(migrated_database_url)
    assert current_revision(migrated_database_url) == head_revision()
    assert _schema_diffs(migrated_database_url) == []


def test_foreign_keys_keep_their_on_delete_rules(migrated_database_url: str) -> None:
    """compare_metadata ignores ON DELETE; check it by reflection."""
    engine = create_db_engine(migrated_database_url)
    try:
        inspector = inspect(engine)
        for table in Base.metadata.sorted_tables:
            expected = {
                (
                    tuple(fk.parent.name for fk in constraint.elements),
                    constraint.referred_table.name,
                    (constraint.ondelete or "NO ACTION").upper(),
                )
                for constraint in table.foreign_key_constraints
            }
            actual = {
                (
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    (fk.get("options", {}).get("ondelete") or "NO ACTION").upper(),
                )
                for fk in inspector.get_foreign_keys(table.name)
            }
            assert actual == expected, table.name
    finally:
        engine.dispose()


def test_unique_constraints_exist(migrated_database_url: str) -> None:
    engine = create_db_engine(migrated_database_url)
    try:
        inspector = inspect(engine)
        uniques = {
            (table, tuple(constraint["column_names"]))
            for table in ("customers", "agents", "channel_identities", "messages")
            for constraint in inspector.get_unique_constraints(table)
        }
    finally:
        engine.dispose()
    assert uniques == {
        ("customers", ("email",)),
        ("agents", ("email",)),
        ("channel_identities", ("channel", "external_id")),
        ("messages", ("conversation_id", "client_id")),
    }


def test_duplicate_unresolved_handoffs_a_race_left_are_closed_before_the_constraint(database_url: str) -> None:
    from sqlalchemy import text

    upgrade(database_url, "0009_analytics")
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO conversations (id, channel, created_at, updated_at) "
                                    "VALUES ('c1', 'web', '2026-12-01', '2026-12-01')"))  # fmt: skip
            for status in ("open", "claimed", "resolved"):
                connection.execute(
                    text("INSERT INTO handoffs (conversation_id, status, reason, packet, created_at) "
                         "VALUES ('c1', :status, 'customer_request', '{}', '2026-12-01')"),
                    {"status": status},
                )  # fmt: skip
        upgrade(database_url)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, status, closed_how FROM handoffs ORDER BY id")).all()
    finally:
        engine.dispose()
    assert [(r.status, r.closed_how) for r in rows] == [("open", None), ("resolved", "duplicate"), ("resolved", None)]
