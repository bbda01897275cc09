"""Values every process of one deployment shares, such as the token signing key."""

from __future__ import annotations

import secrets as stdlib_secrets

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orcrustator.db.tables import service_secrets

TOKEN_KEY_NAME = "token_signing_key"  # noqa: S105 - the row name, not the key


async def get_or_create(conn: AsyncConnection, name: str) -> str:
    """The stored value of `name`, generating and storing one if absent (first writer wins)."""
    existing = await conn.scalar(
        sa.select(service_secrets.c.value).where(service_secrets.c.name == name)
    )
    if existing is not None:
        return str(existing)
    candidate = stdlib_secrets.token_urlsafe(48)
    dialect = conn.dialect.name
    insert: sa.Insert
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        insert = pg_insert(service_secrets).on_conflict_do_nothing(index_elements=["name"])
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        insert = sqlite_insert(service_secrets).on_conflict_do_nothing(index_elements=["name"])
    await conn.execute(insert.values(name=name, value=candidate))
    stored = await conn.scalar(
        sa.select(service_secrets.c.value).where(service_secrets.c.name == name)
    )
    return str(stored)
