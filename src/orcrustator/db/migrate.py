"""`orc db create|upgrade|downgrade|current`: Alembic driven from code, no alembic.ini needed."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool, text

from orcrustator.db.urls import DatabaseUrl


def alembic_config(db: DatabaseUrl) -> Config:
    config = Config()
    config.set_main_option("script_location", "orcrustator:migrations")
    # Alembic's ini interpolation treats '%' specially; a password may contain one.
    config.set_main_option(
        "sqlalchemy.url", db.sync_url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def create_database(db: DatabaseUrl) -> bool:
    """Create the database if it does not exist; True when it was created."""
    if db.is_sqlite:
        path = db.sqlite_path
        if path is None or path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(db.sync_url, poolclass=pool.NullPool)
        with engine.connect() as conn:
            conn.execute(text("PRAGMA journal_mode=WAL"))
        engine.dispose()
        return True
    name = db.sync_url.database
    if not name:
        raise ValueError("DATABASE_URL names no database")
    admin = create_engine(
        db.sync_url.set(database="postgres"), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if exists:
                return False
            quoted = admin.dialect.identifier_preparer.quote_identifier(name)
            conn.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    finally:
        admin.dispose()


def upgrade(db: DatabaseUrl, revision: str = "head") -> None:
    command.upgrade(alembic_config(db), revision)


def downgrade(db: DatabaseUrl, revision: str = "-1") -> None:
    command.downgrade(alembic_config(db), revision)


def current_revision(db: DatabaseUrl) -> str | None:
    engine = create_engine(db.sync_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision(db: DatabaseUrl) -> str | None:
    return ScriptDirectory.from_config(alembic_config(db)).get_current_head()
