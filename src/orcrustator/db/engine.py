"""Async engine set-up for PostgreSQL and SQLite, and the read/write transaction helpers.

SQLite allows one writer at a time. Deferred transactions that read and then write can fail at
once with "database is locked" instead of waiting, so every write transaction here begins with
`BEGIN IMMEDIATE` (it waits on the busy timeout) and, inside one process, writers queue on a lock
rather than spinning on the database file.
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
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


def _alive(driver_connection: Any) -> bool:
    """Whether a pooled psycopg connection can still be used, without a round trip.

    An idle connection has nothing to read. When the server goes away (restart, shutdown,
    `pg_terminate_backend`) it sends a FATAL message and closes the socket, so the socket turns
    readable: one poll tells, where SQLAlchemy's `pool_pre_ping` sends `SELECT 1` and waits for
    the answer on every checkout (under load that was two extra round trips per API request).
    A stray notice also makes the socket readable; that only costs a fresh connection.
    """
    pgconn = driver_connection.pgconn
    try:
        if driver_connection.closed or pgconn.status != 0:  # 0 is libpq's CONNECTION_OK
            return False
        readable, _, _ = select.select([pgconn.socket], [], [], 0)
    except Exception:  # a closed pgconn has no socket to poll (psycopg raises OperationalError)
        return False
    return not readable


def _drop_dead_postgres_connections(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if not _alive(dbapi_connection.driver_connection):
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError("the server closed this pooled connection")


def _utc_sessions(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # In a UTC session psycopg returns timestamps in `datetime.UTC` itself. In a session in
        # a named zone (the server's default, e.g. Etc/UTC) every timestamp cost a zone
        # conversion in psycopg and another in UtcDateTime: about a tenth of a 50-run page's CPU.
        # Values are the same either way (UtcDateTime normalises them), so a pooler that drops
        # session settings only costs the speed back.
        cursor = dbapi_connection.cursor()
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.close()
        dbapi_connection.commit()  # or the pool's reset-on-return would roll the SET back


def _postgres_engine(
    url: DatabaseUrl, pool_size: int, *, max_overflow: int | None = None, **options: Any
) -> AsyncEngine:
    engine = create_async_engine(
        url.async_url,
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        **options,
    )
    _drop_dead_postgres_connections(engine)
    _utc_sessions(engine)
    return engine


class Database:
    """The service's one handle on its database."""

    def __init__(self, url: DatabaseUrl, *, pool_size: int = 10) -> None:
        self.url = url
        if url.is_sqlite:
            self.engine = create_async_engine(url.async_url, pool_size=pool_size)
            _configure_sqlite(self.engine)
            self._read_engine = self.engine
        else:
            self.engine = _postgres_engine(url, pool_size)
            # Reads run in autocommit (see `read`), from a pool of their own whose connections
            # stay in that mode: switching a shared connection to autocommit on checkout and
            # back on return cost more CPU than a small query.
            # Three times the connections, all kept: an api process reads far more than it
            # writes, and with fewer connections than concurrent requests the extra ones queued
            # in the pool (api_load: p99 434 → 228 ms). None of them is overflow: a request
            # holds its connection for a fraction of its time, so the number in use swings
            # under load, and overflow connections were closed at every dip and reopened at the
            # next peak, 20 a second at 50 clients, each a new server backend.
            self._read_engine = _postgres_engine(
                url, 3 * pool_size, max_overflow=0, isolation_level="AUTOCOMMIT"
            )
        # Requests beyond the read pool's size wait here, not in the pool: a waiter in
        # SQLAlchemy's async pool costs a task and a timer (api_load: a tenth of the api's CPU
        # with 50 clients on 30 connections), a waiter on a semaphore one future.
        self._read_slots = asyncio.Semaphore(3 * pool_size)
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
        async with self._read_slots, self._read_engine.connect() as conn:
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
        if self._read_engine is not self.engine:
            await self._read_engine.dispose()
