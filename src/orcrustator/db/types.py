"""Column types that mean the same on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

JsonDocument = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
"""JSONB on PostgreSQL (the seed's type), JSON text on SQLite."""


class UtcDateTime(sa.TypeDecorator[datetime]):
    """TIMESTAMPTZ on PostgreSQL; on SQLite, naive UTC text read back as aware UTC.

    SQLite keeps no zone, so every value is normalised to UTC on the way in and tagged as UTC
    on the way out: the rest of the code only ever sees aware datetimes.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:  # PostgreSQL's, in the UTC sessions we open
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class new_uuid(FunctionElement[Any]):  # noqa: N801 - reads as a SQL function in table definitions
    """Server-side UUID default: `gen_random_uuid()` on PostgreSQL, random hex on SQLite."""

    type = sa.Uuid()
    name = "new_uuid"
    inherit_cache = True


@compiles(new_uuid, "postgresql")
def _new_uuid_postgresql(element: new_uuid, compiler: SQLCompiler, **kw: Any) -> str:
    return "gen_random_uuid()"


@compiles(new_uuid, "sqlite")
def _new_uuid_sqlite(element: new_uuid, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy stores Uuid on SQLite as 32 hex characters without dashes.
    return "(lower(hex(randomblob(16))))"
