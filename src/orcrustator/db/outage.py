"""Riding out a database outage (a restart, a fail-over, a network blip).

Two rules keep an outage from costing runs:

- A write that records a run's progress or outcome is retried until the database answers
  again (`retry_write`), instead of being dropped with the run left `running` for the reaper.
- After this process itself could not reach the database, it does not reap for one lease
  (`ReapGate`): every worker was cut off as long as it was, so their heartbeats are as old as
  the outage, and reaping at once would fail (or retry) runs whose workers are alive and about
  to beat again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import sqlalchemy.exc
import structlog

T = TypeVar("T")

log = structlog.get_logger("orcrustator.db")

FIRST_RETRY_SECONDS = 0.2
MAX_RETRY_SECONDS = 1.0


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached (rather than refused the statement)."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError
        )
    return isinstance(exc, ConnectionError | TimeoutError)


async def retry_write(
    write: Callable[[], Awaitable[T]],
    what: str,
    *,
    first_delay: float = FIRST_RETRY_SECONDS,
    max_delay: float = MAX_RETRY_SECONDS,
) -> T:
    """Run `write` (one whole transaction) until it commits; retry only while the database is
    unreachable. Other errors propagate at once. `write` must be safe to run again after a
    failed attempt, whose transaction was rolled back."""
    delay = first_delay
    failures = 0
    while True:
        try:
            result = await write()
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            failures += 1
            if failures == 1:
                log.warning("database unavailable; retrying", what=what, error=str(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
            continue
        if failures:
            log.info("database reachable again", what=what, attempts=failures + 1)
        return result


class ReapGate:
    """Closed for one lease after the owner last failed to reach the database."""

    def __init__(self, lease_seconds: float) -> None:
        self._lease = lease_seconds
        self._opens_at = float("-inf")

    def failed(self) -> None:
        self._opens_at = time.monotonic() + self._lease

    @property
    def open(self) -> bool:
        return time.monotonic() >= self._opens_at
