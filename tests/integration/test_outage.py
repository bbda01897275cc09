"""Riding out a database outage: which errors mean "unreachable", the write retry, the reap gate.

The errors are real ones (a connection to a closed port, a duplicate key on each backend), not
hand-made imitations.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from orcrustator.db.outage import ReapGate, is_unavailable, retry_write
from orcrustator.db.urls import parse_database_url


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens there once the socket is closed


async def _unreachable_error() -> Exception:
    engine = create_async_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/nowhere",
        poolclass=sa.pool.NullPool,
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("a closed port accepted a connection")


async def _refused_statement_error(database_url: str) -> Exception:
    engine = create_async_engine(
        parse_database_url(database_url).async_url, poolclass=sa.pool.NullPool
    )
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TEMP TABLE orc_outage_t (k INTEGER PRIMARY KEY)"))
            await conn.execute(sa.text("INSERT INTO orc_outage_t VALUES (1)"))
            await conn.execute(sa.text("INSERT INTO orc_outage_t VALUES (1)"))
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("a duplicate key was accepted")


def test_unreachable_database_is_told_apart_from_a_refused_statement(database_url: str) -> None:
    assert is_unavailable(asyncio.run(_unreachable_error()))
    assert not is_unavailable(asyncio.run(_refused_statement_error(database_url)))
    assert not is_unavailable(ValueError("a bug"))


def test_a_write_is_retried_until_the_database_answers() -> None:
    unreachable = asyncio.run(_unreachable_error())
    attempts = 0

    async def write() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 4:
            raise unreachable
        return "committed"

    result = asyncio.run(retry_write(write, "test", first_delay=0.01, max_delay=0.02))
    assert (result, attempts) == ("committed", 4)


def test_other_errors_are_not_retried(database_url: str) -> None:
    refused = asyncio.run(_refused_statement_error(database_url))
    attempts = 0

    async def write() -> None:
        nonlocal attempts
        attempts += 1
        raise refused

    with pytest.raises(type(refused)):
        asyncio.run(retry_write(write, "test", first_delay=0.01))
    assert attempts == 1


def test_the_reap_gate_closes_for_one_lease_after_a_failure() -> None:
    gate = ReapGate(lease_seconds=0.3)
    assert gate.open, "a process that never lost the database reaps at once"
    gate.failed()
    assert not gate.open
    time.sleep(0.15)
    gate.failed()  # still failing: the lease counts from the last failure
    time.sleep(0.2)
    assert not gate.open
    deadline = time.monotonic() + 5
    while not gate.open and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gate.open
