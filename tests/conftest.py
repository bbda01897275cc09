"""Fixtures shared by every tier: the two database backends and a fresh database per run.

Integration tests take `database_url`, which is parametrised over SQLite and PostgreSQL. The
PostgreSQL database is created for this test session (from ORC_TEST_POSTGRES_URL) and dropped at
the end; in CI (CI=true) a missing ORC_TEST_POSTGRES_URL is a failure, not a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from orcrustator.db import migrate
from orcrustator.db.tables import metadata
from orcrustator.db.urls import parse_database_url

BACKENDS = ("sqlite", "postgresql")
POSTGRES_ENV = "ORC_TEST_POSTGRES_URL"


def postgres_server_url() -> str:
    """The server URL for PostgreSQL tests; skips (or fails in CI) when none is configured."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        message = f"{POSTGRES_ENV} is not set"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: PostgreSQL tests must run in CI")
        pytest.skip(message)
    return url


def create_postgres_database(server_url: str, prefix: str) -> str:
    """Create a uniquely named database on the server; return its URL."""
    base = parse_database_url(server_url)
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = base.sync_url.set(database=name).render_as_string(hide_password=False)
    migrate.create_database(parse_database_url(url))
    return url


def drop_postgres_database(url: str) -> None:
    db = parse_database_url(url)
    admin = sa.create_engine(
        db.sync_url.set(database="postgres"),
        poolclass=sa.pool.NullPool,
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db.sync_url.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of each backend, shared by one session's tests."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("sqlite") / "orc.db"
        url = f"sqlite:///{path}"
        migrate.upgrade(parse_database_url(url))
        yield url
        return
    url = create_postgres_database(postgres_server_url(), "orc_test")
    try:
        migrate.upgrade(parse_database_url(url))
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def clean_database(database_url: str) -> str:
    """The session's database, emptied of every row (the schema stays)."""
    db = parse_database_url(database_url)
    engine = sa.create_engine(db.sync_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        names = [t.name for t in reversed(metadata.sorted_tables)]
        if db.is_sqlite:
            for name in names:
                conn.execute(sa.text(f'DELETE FROM "{name}"'))
        else:
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " CASCADE"))
    engine.dispose()
    return database_url
