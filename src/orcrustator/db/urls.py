"""Turn the user's `DATABASE_URL` into the driver URLs SQLAlchemy needs.

Users write the seed's `postgres://…` or `postgresql://…` and `sqlite:///file.db`; the service
runs on async drivers (psycopg 3, aiosqlite) and Alembic on their sync twins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from orcrustator.errors import InvalidInput

Backend = Literal["postgresql", "sqlite"]


@dataclass(frozen=True)
class DatabaseUrl:
    """One database, named for each driver that touches it."""

    backend: Backend
    async_url: URL
    sync_url: URL

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    @property
    def sqlite_path(self) -> Path | None:
        """The file behind a SQLite URL, None for PostgreSQL or an in-memory database."""
        if not self.is_sqlite or not self.sync_url.database or self.sync_url.database == ":memory:":
            return None
        return Path(self.sync_url.database)

    def display(self) -> str:
        """The URL with its password masked, safe to print and log."""
        return self.sync_url.render_as_string(hide_password=True)


def parse_database_url(raw: str) -> DatabaseUrl:
    """Accept the URL forms users write and return both driver variants."""
    text = raw.strip()
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://") :]
    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise InvalidInput(
            f"DATABASE_URL is not a database URL: {exc}", field="DATABASE_URL"
        ) from exc
    backend_name = url.get_backend_name()
    if backend_name == "postgresql":
        return DatabaseUrl(
            backend="postgresql",
            async_url=url.set(drivername="postgresql+psycopg"),
            sync_url=url.set(drivername="postgresql+psycopg"),
        )
    if backend_name == "sqlite":
        return DatabaseUrl(
            backend="sqlite",
            async_url=url.set(drivername="sqlite+aiosqlite"),
            sync_url=url.set(drivername="sqlite+pysqlite"),
        )
    raise InvalidInput(
        f"DATABASE_URL names an unsupported database '{backend_name}': "
        "use postgresql://… (or postgres://…) or sqlite:///path",
        field="DATABASE_URL",
    )
