"""Vacuuming the run tables when the server does not keep up with their churn.

Every run is inserted queued and updated at least twice (running, then its outcome); `status`
is indexed, so no update is HOT and each leaves a dead row version and dead entries in the run
indexes, the partial index of queued runs among them. Until a VACUUM removes them, every claim
walks them: on a server with autovacuum off (as on the machine our benchmarks run on), a
50-runs-a-second soak had 30,000 dead versions of 15,000 runs after six minutes, and one claim
visited 14,842 index entries and 732 table pages to find 9 queued runs (2.4 ms), growing for
as long as the service ran. Autovacuum's default trigger (a fifth of the table dead) also lets a
large history pile up dead entries between passes.

So the scheduler (`keep_run_tables_vacuumed` in `scheduler/service.py`) looks at the server's
own counts of dead rows every `CHECK_SECONDS` and runs `VACUUM (ANALYZE)` on a run table once
its dead rows pass `MIN_DEAD_ROWS` and `DEAD_FRACTION` of its live ones; where autovacuum keeps
up, this never fires. `SKIP_LOCKED`: another scheduler's (or autovacuum's) pass on the same
table is not waited for. PostgreSQL only: SQLite removes index entries with the row.
"""

from __future__ import annotations

import sqlalchemy as sa

from orcrustator.db.engine import Database

RUN_TABLES = ("job_runs", "task_runs")
CHECK_SECONDS = 30.0
MIN_DEAD_ROWS = 5_000
DEAD_FRACTION = 0.02

_BLOATED = sa.text(
    """
    SELECT relname FROM pg_stat_user_tables
    WHERE schemaname = current_schema() AND relname = ANY(CAST(:tables AS text[]))
      AND n_dead_tup > GREATEST(:min_dead, :fraction * n_live_tup)
    ORDER BY relname
    """
)


async def vacuum_bloated(db: Database) -> list[str]:
    """VACUUM (ANALYZE) each run table with too many dead rows; returns the tables vacuumed."""
    if db.is_sqlite:
        return []
    # A read connection: on PostgreSQL it is in autocommit, and VACUUM cannot run inside a
    # transaction block.
    async with db.read() as conn:
        params = {"tables": list(RUN_TABLES), "min_dead": MIN_DEAD_ROWS, "fraction": DEAD_FRACTION}
        bloated = [str(name) for name in (await conn.execute(_BLOATED, params)).scalars()]
        for name in bloated:
            # `name` is one of RUN_TABLES, never input.
            await conn.exec_driver_sql(f'VACUUM (ANALYZE, SKIP_LOCKED) "{name}"')
    return bloated
