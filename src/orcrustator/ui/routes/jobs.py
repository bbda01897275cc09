"""Jobs: the list (the dashboard's home page), one job, pause/resume and "Trigger now"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import Response

from orcrustator.api.deps import ServicesDep
from orcrustator.api.presenters import next_run_at
from orcrustator.db.repo import dashboard as dashboard_repo
from orcrustator.db.repo import jobs as jobs_repo
from orcrustator.db.repo import runs as runs_repo
from orcrustator.db.repo import tasks as tasks_repo
from orcrustator.ui.charts import duration_chart
from orcrustator.ui.routing import CsrfChecked, SessionDep, UIRoute, page, parse_id, redirect
from orcrustator.ui.security import safe_next
from orcrustator.ui.views import RunView, job_rows, schedule_words, task_view

router = APIRouter(route_class=UIRoute, include_in_schema=False)

JOBS_PER_PAGE = 50
HISTORY_RUNS = 50

PageNumber = Annotated[int, Query(alias="page", ge=1, le=100_000)]


@router.get("/")
async def jobs_page(
    request: Request, services: ServicesDep, session: SessionDep, page_number: PageNumber = 1
) -> Response:
    now = datetime.now(UTC)
    offset = (page_number - 1) * JOBS_PER_PAGE
    async with services.db.read() as conn:
        jobs = await jobs_repo.list_page(conn, limit=JOBS_PER_PAGE, offset=offset)
        total = await jobs_repo.count(conn)
        active = await jobs_repo.count(conn, is_active=True)
        latest = await dashboard_repo.latest_runs(conn, [j["job_id"] for j in jobs])
        counts = await dashboard_repo.status_counts(conn, since=now - timedelta(hours=24))
    return page(
        request,
        "jobs.html",
        {
            "nav": "jobs",
            "rows": job_rows(jobs, latest, now),
            "total": total,
            "active": active,
            "counts": counts,
            "page_number": page_number,
            "pages": max(1, -(-total // JOBS_PER_PAGE)),
        },
        session=session,
    )


@router.get("/jobs/{job_id}")
async def job_page(
    job_id: str, request: Request, services: ServicesDep, session: SessionDep
) -> Response:
    key = parse_id(job_id)
    now = datetime.now(UTC)
    async with services.db.read() as conn:
        job = await jobs_repo.get(conn, key)
        tasks = await tasks_repo.list_for_job(conn, key)
        runs = await runs_repo.list_page(conn, limit=HISTORY_RUNS, offset=0, job_id=key)
        total_runs = await runs_repo.count(conn, job_id=key)
        counts = await dashboard_repo.status_counts(conn, job_id=key)
    history = [RunView(r) for r in runs]
    return page(
        request,
        "job.html",
        {
            "nav": "jobs",
            "job": job,
            "schedule_words": schedule_words(str(job["schedule"])),
            "next_run": next_run_at(job, now),
            "tasks": [task_view(t) for t in tasks],
            "runs": history,
            "total_runs": total_runs,
            "counts": counts,
            "chart": duration_chart(history),
        },
        session=session,
    )


@router.post("/jobs/{job_id}/active", dependencies=CsrfChecked)
async def set_active(
    job_id: str,
    request: Request,
    services: ServicesDep,
    _session: SessionDep,
    is_active: Annotated[str, Form()] = "",
    next_url: Annotated[str, Form(alias="next")] = "",
) -> Response:
    key = parse_id(job_id)
    active = is_active == "true"
    async with services.db.write() as conn:
        job = await jobs_repo.update(conn, key, {"is_active": active})
    state = "resumed: it runs on schedule again" if active else "paused: no scheduled runs"
    return redirect(
        request, safe_next(next_url, f"/jobs/{key}"), flash=f"{job['job_name']} {state}."
    )


@router.post("/jobs/{job_id}/trigger", dependencies=CsrfChecked)
async def trigger(
    job_id: str, request: Request, services: ServicesDep, _session: SessionDep
) -> Response:
    key = parse_id(job_id)
    async with services.db.write() as conn:
        run = await runs_repo.create_manual(conn, key)
    return redirect(
        request, f"/runs/{run['run_id']}", flash="Run triggered: this page follows it live."
    )
