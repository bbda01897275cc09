"""Users: accounts that log in to the API, the dashboard and the CLI."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from orcrustator.db.repo._fast_reads import fetch_records
from orcrustator.db.repo._rows import Record, as_record, as_records, utcnow
from orcrustator.db.tables import users
from orcrustator.errors import Conflict, NotFound

PUBLIC_COLUMNS = (
    users.c.user_id,
    users.c.username,
    users.c.is_admin,
    users.c.created_at,
    users.c.updated_at,
)


async def create(
    conn: AsyncConnection, *, username: str, password_hash: str, is_admin: bool
) -> Record:
    if await find_by_username(conn, username) is not None:
        raise Conflict(f"user '{username}' already exists", field="username")
    now = utcnow()
    try:
        row = (
            await conn.execute(
                sa.insert(users)
                .values(
                    user_id=uuid.uuid4(),
                    username=username,
                    password_hash=password_hash,
                    is_admin=is_admin,
                    created_at=now,
                    updated_at=now,
                )
                .returning(*PUBLIC_COLUMNS)
            )
        ).one()
    except IntegrityError as exc:
        raise Conflict(f"user '{username}' already exists", field="username") from exc
    return as_record(row)


async def find_by_username(conn: AsyncConnection, username: str) -> Record | None:
    """The user with this name, including the password hash (for login only)."""
    row = (await conn.execute(sa.select(users).where(users.c.username == username))).first()
    return None if row is None else as_record(row)


_GET = sa.select(*PUBLIC_COLUMNS).where(users.c.user_id == sa.bindparam("user_id"))


async def get(conn: AsyncConnection, user_id: uuid.UUID) -> Record:
    rows = await fetch_records(conn, _GET, {"user_id": user_id})
    if not rows:
        raise NotFound(f"user {user_id} not found")
    return rows[0]


async def list_all(conn: AsyncConnection, *, limit: int, offset: int) -> list[Record]:
    rows = await conn.execute(
        sa.select(*PUBLIC_COLUMNS).order_by(users.c.username).limit(limit).offset(offset)
    )
    return as_records(rows)


async def count(conn: AsyncConnection) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(users)) or 0)


async def count_admins(conn: AsyncConnection) -> int:
    query = sa.select(sa.func.count()).select_from(users).where(users.c.is_admin.is_(True))
    return int(await conn.scalar(query) or 0)


async def delete(conn: AsyncConnection, user_id: uuid.UUID) -> None:
    result = await conn.execute(sa.delete(users).where(users.c.user_id == user_id))
    if result.rowcount == 0:
        raise NotFound(f"user {user_id} not found")


async def set_password(conn: AsyncConnection, user_id: uuid.UUID, password_hash: str) -> None:
    result = await conn.execute(
        sa.update(users)
        .where(users.c.user_id == user_id)
        .values(password_hash=password_hash, updated_at=utcnow())
    )
    if result.rowcount == 0:
        raise NotFound(f"user {user_id} not found")
