"""The migrated schema is the seed's schema, and the table definitions agree with the migrations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from orcrustator.db import migrate
from orcrustator.db.tables import metadata
from orcrustator.db.urls import parse_database_url
from tests.conftest import create_postgres_database, drop_postgres_database, postgres_server_url

# (column, data_type, character_maximum_length, is_nullable, default) as information_schema says.
SEED_COLUMNS: dict[str, list[tuple[str, str, int | None, str, str | None]]] = {
    "job_definitions": [
        ("job_id", "uuid", None, "NO", "gen_random_uuid()"),
        ("job_name", "character varying", 255, "NO", None),
        ("description", "text", None, "YES", None),
        ("schedule", "character varying", 255, "NO", None),
        ("is_active", "boolean", None, "NO", "true"),
        ("created_at", "timestamp with time zone", None, "NO", "now()"),
        ("updated_at", "timestamp with time zone", None, "NO", "now()"),
    ],
    "task_definitions": [
        ("task_id", "uuid", None, "NO", "gen_random_uuid()"),
        ("job_id", "uuid", None, "NO", None),
        ("task_order", "integer", None, "NO", None),
        ("extractor_config", "jsonb", None, "NO", None),
        ("loader_config", "jsonb", None, "NO", None),
        ("created_at", "timestamp with time zone", None, "NO", "now()"),
        ("updated_at", "timestamp with time zone", None, "NO", "now()"),
    ],
    "job_runs": [
        ("run_id", "uuid", None, "NO", "gen_random_uuid()"),
        ("job_id", "uuid", None, "NO", None),
        ("status", "character varying", 50, "NO", None),
        ("triggered_by", "character varying", 50, "NO", None),
        ("started_at", "timestamp with time zone", None, "YES", None),
        ("finished_at", "timestamp with time zone", None, "YES", None),
        ("error_message", "text", None, "YES", None),
        ("created_at", "timestamp with time zone", None, "NO", "now()"),
    ],
    "users": [
        ("user_id", "uuid", None, "NO", "gen_random_uuid()"),
        ("username", "character varying", 255, "NO", None),
        ("password_hash", "text", None, "NO", None),
        ("created_at", "timestamp with time zone", None, "NO", "now()"),
        ("updated_at", "timestamp with time zone", None, "NO", "now()"),
    ],
}
SEED_INDEXES = {
    "idx_job_definitions_is_active": ("job_definitions", "(is_active)"),
    "idx_task_definitions_job_id": ("task_definitions", "(job_id)"),
    "idx_job_runs_status": ("job_runs", "(status)"),
    "idx_job_runs_job_id": ("job_runs", "(job_id)"),
    "idx_users_username": ("users", "(username)"),
}


@pytest.fixture(scope="module")
def postgres_schema() -> Iterator[sa.engine.Engine]:
    url = create_postgres_database(postgres_server_url(), "orc_schema")
    try:
        migrate.upgrade(parse_database_url(url))
        engine = sa.create_engine(parse_database_url(url).sync_url, poolclass=sa.pool.NullPool)
        yield engine
        engine.dispose()
    finally:
        drop_postgres_database(url)


@pytest.mark.parametrize("table", sorted(SEED_COLUMNS))
def test_postgres_seed_columns_are_exact(postgres_schema: sa.engine.Engine, table: str) -> None:
    with postgres_schema.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT column_name, data_type, character_maximum_length, is_nullable, "
                "column_default "
                "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = :t"
            ),
            {"t": table},
        ).all()
    found = {r[0]: (r[0], r[1], r[2], r[3], r[4]) for r in rows}
    for expected in SEED_COLUMNS[table]:
        assert found.get(expected[0]) == expected
    # Every column beyond the seed's is an addition that may be omitted: nullable or defaulted.
    for name, (_, _, _, nullable, default) in found.items():
        if name not in {c[0] for c in SEED_COLUMNS[table]}:
            assert nullable == "YES" or default is not None, f"{table}.{name} breaks seed inserts"


def test_postgres_seed_indexes_exist(postgres_schema: sa.engine.Engine) -> None:
    with postgres_schema.connect() as conn:
        rows = conn.execute(sa.text("SELECT indexname, tablename, indexdef FROM pg_indexes")).all()
    by_name = {r[0]: (r[1], r[2]) for r in rows}
    for name, (table, columns) in SEED_INDEXES.items():
        assert name in by_name, f"missing index {name}"
        assert by_name[name][0] == table
        assert by_name[name][1].endswith(f"USING btree {columns}")


def test_postgres_seed_constraints(postgres_schema: sa.engine.Engine) -> None:
    with postgres_schema.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT conrelid::regclass::text, contype, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
            )
        ).all()
    constraints = {(r[0], r[1], r[2]) for r in rows}
    assert ("job_definitions", "p", "PRIMARY KEY (job_id)") in constraints
    assert ("task_definitions", "p", "PRIMARY KEY (task_id)") in constraints
    assert ("job_runs", "p", "PRIMARY KEY (run_id)") in constraints
    assert ("users", "p", "PRIMARY KEY (user_id)") in constraints
    assert ("task_definitions", "u", "UNIQUE (job_id, task_order)") in constraints
    assert ("users", "u", "UNIQUE (username)") in constraints
    cascade = "FOREIGN KEY (job_id) REFERENCES job_definitions(job_id) ON DELETE CASCADE"
    assert ("task_definitions", "f", cascade) in constraints
    assert ("job_runs", "f", cascade) in constraints


def _diff(url: str) -> list[object]:
    engine = sa.create_engine(parse_database_url(url).sync_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_migrations_match_table_definitions(database_url: str) -> None:
    """Alembic's autogenerate finds nothing to change: tables.py and the revisions agree."""
    assert _diff(database_url) == []


def test_downgrade_to_base_and_back(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    db = parse_database_url(f"sqlite:///{tmp_path / 'round.db'}")
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision(db)
    migrate.downgrade(db, "base")
    assert migrate.current_revision(db) is None
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision(db)
