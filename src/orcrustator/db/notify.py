"""Wake-ups between processes: PostgreSQL LISTEN/NOTIFY, plus in-process events.

Writers call `publish(conn, channel)` inside their transaction. On PostgreSQL that queues a
NOTIFY, which the server delivers at commit to every listening process on any host. In the same
process (`orc up`, and the only way on SQLite) the `Database` sets a local event after the
commit. Waiters always pass a timeout: polling remains the fallback if a notification is lost
(for example while the listener reconnects).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

import psycopg
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from orcrustator.db.urls import DatabaseUrl

RUNS: Final = "orc_runs"
"""A run became claimable (queued, requeued)."""
JOBS: Final = "orc_jobs"
"""A job was created, changed, paused or deleted."""
CHANNELS: Final = (RUNS, JOBS)

PENDING_KEY: Final = "orc_pending_notifications"

log = structlog.get_logger("orcrustator.notify")


async def publish(conn: AsyncConnection, channel: str) -> None:
    """Announce `channel` when the caller's transaction commits."""
    conn.info.setdefault(PENDING_KEY, set()).add(channel)
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})


class LocalEvents:
    """One asyncio event per channel, for waiters in this process."""

    def __init__(self) -> None:
        self._events = {channel: asyncio.Event() for channel in CHANNELS}

    def fire(self, channel: str) -> None:
        self._events[channel].set()

    async def wait(self, channel: str, timeout: float) -> bool:
        """True when woken by a notification, False on timeout. Consumes the wake-up."""
        event = self._events[channel]
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        event.clear()
        return True


class PostgresListener:
    """Keeps one LISTEN connection open and forwards notifications to `LocalEvents`."""

    def __init__(self, url: DatabaseUrl, events: LocalEvents) -> None:
        self._conninfo = url.sync_url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self._events = events
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pg-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as conn:
                    for channel in CHANNELS:
                        await conn.execute(f"LISTEN {channel}")
                    delay = 0.5
                    # Anything published while we were not listening: wake everyone once.
                    for channel in CHANNELS:
                        self._events.fire(channel)
                    async for note in conn.notifies():
                        if note.channel in CHANNELS:
                            self._events.fire(note.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reconnect on any connection failure
                log.warning("listener disconnected; reconnecting", error=str(exc), delay=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
