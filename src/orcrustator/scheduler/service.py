"""The scheduler loop: turn due cron slots of active jobs into queued runs, reap lost runs, and
keep the run tables vacuumed (`db/upkeep.py`).

It sleeps until the earliest next slot of all active jobs (no fixed tick) and wakes early when a
job changes. Any number of schedulers may run: the unique (job_id, scheduled_for) index makes
each slot one run, whoever inserts it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from orcrustator.db import notify, upkeep
from orcrustator.db.engine import Database
from orcrustator.db.outage import ReapGate
from orcrustator.db.repo import dispatch, instances
from orcrustator.db.repo import schedule as schedule_repo
from orcrustator.scheduler.cron import CronSchedule, next_fire_time, parse_schedule
from orcrustator.scheduler.slots import slots_to_enqueue
from orcrustator.settings import Settings

log = structlog.get_logger("orcrustator.scheduler")

# Re-read the jobs at least this often even without a notification (another host's change on
# SQLite, a lost NOTIFY): the fallback, not the normal path.
REFRESH_SECONDS = 5.0


@dataclass
class _Job:
    job_id: uuid.UUID
    job_name: str
    schedule: CronSchedule
    tz: ZoneInfo
    catchup: bool
    after: datetime
    next_slot: datetime | None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.instance_id = instances.new_instance_id("scheduler")
        self._jobs: dict[uuid.UUID, _Job] = {}
        self._reap_gate = ReapGate(settings.lease_seconds)
        self._looked_at: datetime | None = None

    async def _load_jobs(self) -> None:
        async with self.db.read() as conn:
            rows = await schedule_repo.active_jobs(conn)
        jobs: dict[uuid.UUID, _Job] = {}
        for row in rows:
            try:
                cron = parse_schedule(row.schedule)
                tz = ZoneInfo(row.timezone)
            except (ValueError, KeyError) as exc:
                log.warning(
                    "job has an unusable schedule; skipped", job_id=str(row.job_id), error=str(exc)
                )
                continue
            after = max(row.last_slot or row.created_at, row.created_at)
            jobs[row.job_id] = _Job(row.job_id, row.job_name, cron, tz, row.catchup, after, None)
        self._jobs = jobs

    async def _enqueue_due(self, now: datetime) -> int:
        slots: list[tuple[uuid.UUID, datetime]] = []
        latest: dict[uuid.UUID, datetime] = {}
        for job in self._jobs.values():
            due = slots_to_enqueue(
                job.schedule,
                job.tz,
                after=job.after,
                looked_at=self._looked_at,
                now=now,
                catchup=job.catchup,
                max_catchup=self.settings.max_catchup_runs,
            )
            slots.extend((job.job_id, slot) for slot in due)
            if due:
                latest[job.job_id] = due[-1]
            job.next_slot = next_fire_time(job.schedule, job.tz, max(job.after, now))
        # Set before writing: slots of a cycle whose write fails were missed in an outage, and
        # the catch-up rule decides which of them still run.
        self._looked_at = now
        if not slots:
            return 0
        async with self.db.write() as conn:
            inserted = await schedule_repo.enqueue_slots(conn, slots, now=_utcnow())
        # Only now that they are committed: slots whose insert failed (the database was
        # restarting) stay due, so the next cycle enqueues them as the catch-up rule says.
        for job_id, slot in latest.items():
            self._jobs[job_id].after = slot
        log.debug("slots enqueued", due=len(slots), inserted=inserted)
        return inserted

    async def _reap(self, now: datetime) -> None:
        if not self._reap_gate.open:
            return
        async with self.db.write() as conn:
            reaped = await dispatch.reap(conn, lease_seconds=self.settings.lease_seconds, now=now)
        for item in reaped:
            log.warning(
                "run lost its worker",
                run_id=str(item["run_id"]),
                job_id=str(item["job_id"]),
                attempt=item["attempt"],
                outcome=item["outcome"],
            )

    async def _beat(self, now: datetime) -> None:
        async with self.db.write() as conn:
            await instances.beat(conn, instance_id=self.instance_id, role="scheduler", now=now)

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set."""
        self.db.listen()
        log.info("scheduler started", instance_id=self.instance_id)
        housekeeping_every = min(self.settings.lease_seconds / 3, REFRESH_SECONDS)
        next_housekeeping = _utcnow()
        next_refresh = _utcnow()
        # Beside the loop, not in it: a VACUUM of a large history must not hold up due slots.
        vacuuming = asyncio.create_task(keep_run_tables_vacuumed(self.db, stop))
        try:
            while not stop.is_set():
                now = _utcnow()
                try:
                    if now >= next_refresh:
                        await self._load_jobs()
                        next_refresh = now + timedelta(seconds=REFRESH_SECONDS)
                    await self._enqueue_due(now)
                    if now >= next_housekeeping:
                        await self._beat(now)
                        await self._reap(now)
                        next_housekeeping = now + timedelta(seconds=housekeeping_every)
                except Exception as exc:  # the database may be restarting: log, wait, retry
                    log.error("scheduler cycle failed; retrying", error=str(exc))
                    self._reap_gate.failed()
                    await _sleep_or_stop(stop, self.settings.poll_seconds)
                    continue
                wake_at = min(
                    [j.next_slot for j in self._jobs.values() if j.next_slot is not None]
                    + [next_refresh, next_housekeeping]
                )
                timeout = max(0.0, (wake_at - _utcnow()).total_seconds())
                if await self._wait_for_change(stop, timeout):
                    next_refresh = _utcnow()  # a job changed: re-read before computing slots
        finally:
            vacuuming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await vacuuming
            try:
                async with self.db.write() as conn:
                    await instances.stopped(conn, instance_id=self.instance_id, now=_utcnow())
            except Exception as exc:  # best effort on the way out
                log.warning("could not record scheduler stop", error=str(exc))
            log.info("scheduler stopped", instance_id=self.instance_id)

    async def _wait_for_change(self, stop: asyncio.Event, timeout: float) -> bool:
        """Sleep up to `timeout`; True if a job changed meanwhile."""
        changed = asyncio.create_task(self.db.events.wait(notify.JOBS, timeout))
        stopped = asyncio.create_task(stop.wait())
        done, pending = await asyncio.wait({changed, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return changed in done and changed.result()


async def keep_run_tables_vacuumed(db: Database, stop: asyncio.Event) -> None:
    """`upkeep.vacuum_bloated` every `upkeep.CHECK_SECONDS` until `stop` is set; failures are
    logged, never raised."""
    while not stop.is_set():
        try:
            vacuumed = await upkeep.vacuum_bloated(db)
            if vacuumed:
                log.info("vacuumed run tables with many dead rows", tables=vacuumed)
        except Exception as exc:  # the database may be restarting: try again next time
            log.warning("could not vacuum the run tables", error=str(exc))
        await _sleep_or_stop(stop, upkeep.CHECK_SECONDS)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
