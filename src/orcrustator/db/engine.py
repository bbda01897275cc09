"""Async engine set-up for PostgreSQL and SQLite, and the read/write transaction helpers.

SQLite allows one writer at a time. Deferred transactions that read and then write can fail at
once with "database is locked" instead of waiting, so every write transaction here begins with
`BEGIN IMMEDIATE` (it waits on the busy timeout) and, inside one process, writers queue on a lock
rather than spinning on the database file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from orcrustator.db.notify import PENDING_KEY, LocalEvents, PostgresListener
from orcrustator.db.urls import DatabaseUrl

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """The service's one handle on its database."""

    def __init__(self, url: DatabaseUrl, *, pool_size: int = 10) -> None:
        self.url = url
        if url.is_sqlite:
            self.engine = create_async_engine(url.async_url, pool_size=pool_size)
            _configure_sqlite(self.engine)
        else:
            self.engine = create_async_engine(
                url.async_url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
            )
        self._write_lock = asyncio.Lock() if url.is_sqlite else None
        self.events = LocalEvents()
        self._listener: PostgresListener | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.is_sqlite

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only.

        On PostgreSQL each statement runs in its own implicit transaction (autocommit): under
        READ COMMITTED a transaction gives its statements no common snapshot anyway, and
        leaving out BEGIN and COMMIT saves two round trips per request, which on a busy machine
        cost more than the queries. On SQLite a deferred transaction, so that the statements
        share one WAL snapshot.
        """
        if self.is_sqlite:
            async with self.engine.connect() as conn, conn.begin():
                yield conn
            return
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A short write transaction; commits on success, rolls back on error."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                conn.info.pop(PENDING_KEY, None)  # left over from a rolled-back transaction
                yield conn
                pending = conn.info.pop(PENDING_KEY, set())
        else:
            async with self._write_lock, self.engine.connect() as conn:
                await conn.execution_options(sqlite_begin="IMMEDIATE")
                async with conn.begin():
                    conn.info.pop(PENDING_KEY, None)
                    yield conn
                    pending = conn.info.pop(PENDING_KEY, set())
        # Only after the commit: a waiter woken earlier would find nothing to do.
        for channel in pending:
            self.events.fire(channel)

    def listen(self) -> None:
        """Receive other processes' notifications too (PostgreSQL only; idempotent)."""
        if not self.is_sqlite and self._listener is None:
            self._listener = PostgresListener(self.url, self.events)
            self._listener.start()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None
        await self.engine.dispose()
