"""Pooled PostgreSQL connections the server has closed are replaced, not handed out."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
import sqlalchemy as sa

from orcrustator.db.engine import Database
from orcrustator.db.urls import parse_database_url


def test_connections_killed_on_the_server_are_replaced_on_checkout(clean_database: str) -> None:
    url = parse_database_url(clean_database)
    if url.is_sqlite:
        pytest.skip("SQLite has no server to close a connection")

    async def scenario() -> tuple[set[int], set[int]]:
        db = Database(url, pool_size=2)
        try:
            # Two connections of each pool, held at once so that both stay pooled.
            async with db.read() as r1, db.read() as r2, db.write() as w1, db.write() as w2:
                before = {
                    int(await c.scalar(sa.text("SELECT pg_backend_pid()")) or 0)
                    for c in (r1, r2, w1, w2)
                }
            libpq = url.sync_url.set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(libpq, autocommit=True) as admin:
                for pid in before:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            await asyncio.sleep(0.2)  # the FATAL message and the close reach our sockets
            # Every request right after succeeds: no "server closed the connection" error.
            async with db.read() as r1, db.read() as r2, db.write() as w1, db.write() as w2:
                after = {
                    int(await c.scalar(sa.text("SELECT pg_backend_pid()")) or 0)
                    for c in (r1, r2, w1, w2)
                }
            return before, after
        finally:
            await db.dispose()

    before, after = asyncio.run(scenario())
    assert len(before) == 4
    assert len(after) == 4
    assert before.isdisjoint(after)


def test_reads_beyond_the_pool_wait_their_turn(clean_database: str) -> None:
    """Twelve concurrent reads on a read pool of three: all answer, never more than three
    connections at once."""
    url = parse_database_url(clean_database)
    if url.is_sqlite:
        pytest.skip("SQLite reads share one file, not a pool of server connections")

    async def scenario() -> tuple[list[int], int]:
        db = Database(url, pool_size=1)
        in_flight = 0
        most = 0

        async def one(i: int) -> int:
            nonlocal in_flight, most
            async with db.read() as conn:
                in_flight += 1
                most = max(most, in_flight)
                await conn.execute(sa.text("SELECT pg_sleep(0.05)"))
                value = int(await conn.scalar(sa.text("SELECT :i"), {"i": i}) or 0)
                in_flight -= 1
                return value

        try:
            return list(await asyncio.gather(*(one(i) for i in range(12)))), most
        finally:
            await db.dispose()

    answers, most = asyncio.run(scenario())
    assert answers == list(range(12))
    assert most == 3
