"""Runs: recent runs of every job, one run (live while it is queued or running), cancel."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from orcrustator.api.deps import Services, ServicesDep
from orcrustator.db.repo import dashboard as dashboard_repo
from orcrustator.db.repo import jobs as jobs_repo
from orcrustator.db.repo import runs as runs_repo
from orcrustator.db.tables import RUN_STATUSES
from orcrustator.errors import Conflict
from orcrustator.ui.rendering import render
from orcrustator.ui.routing import CsrfChecked, SessionDep, UIRoute, page, parse_id, redirect
from orcrustator.ui.views import RunView, snapshot_views, task_run_views

router = APIRouter(route_class=UIRoute, include_in_schema=False)

RUNS_PER_PAGE = 50
LOG_LINES = 500
POLL_MS = 1500


@router.get("/runs")
async def runs_page(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    status: Annotated[str, Query(max_length=20)] = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    chosen = status if status in RUN_STATUSES else None
    async with services.db.read() as conn:
        runs = await runs_repo.list_page(
            conn, limit=RUNS_PER_PAGE, offset=(page_number - 1) * RUNS_PER_PAGE, status=chosen
        )
        total = await runs_repo.count(conn, status=chosen)
        names = await dashboard_repo.job_names(conn, [r["job_id"] for r in runs])
        counts = await dashboard_repo.status_counts(conn)
    return page(
        request,
        "runs.html",
        {
            "nav": "runs",
            "runs": [RunView(r, names.get(r["job_id"])) for r in runs],
            "status": chosen,
            "statuses": RUN_STATUSES,
            "counts": counts,
            "total": total,
            "page_number": page_number,
            "pages": max(1, -(-total // RUNS_PER_PAGE)),
        },
        session=session,
    )


async def _run_context(services: Services, run_id: uuid.UUID) -> dict[str, Any]:
    async with services.db.read() as conn:
        run = await runs_repo.get(conn, run_id)
        job = await jobs_repo.get(conn, run["job_id"])
        task_runs = await runs_repo.task_runs_for(conn, run_id)
        logs = await runs_repo.logs_for(conn, run_id, limit=LOG_LINES + 1)
    snapshot = snapshot_views(run.get("config_snapshot"))
    return {
        "run": RunView(run, job["job_name"]),
        "job": job,
        "task_runs": task_run_views(task_runs, snapshot),
        "snapshot": snapshot,
        "logs": logs[:LOG_LINES],
        "logs_truncated": len(logs) > LOG_LINES,
        "poll_ms": POLL_MS,
    }


@router.get("/runs/{run_id}")
async def run_page(
    run_id: str, request: Request, services: ServicesDep, session: SessionDep
) -> Response:
    context = await _run_context(services, parse_id(run_id))
    return page(request, "run.html", {"nav": "runs", **context}, session=session)


@router.get("/runs/{run_id}/live")
async def run_fragment(
    run_id: str, request: Request, services: ServicesDep, session: SessionDep
) -> Response:
    """The changing part of the run page, which the page's script polls while the run is live."""
    context = await _run_context(services, parse_id(run_id))
    return render(request, "_run_live.html", context, session=session)


@router.post("/runs/{run_id}/cancel", dependencies=CsrfChecked)
async def cancel(
    run_id: str, request: Request, services: ServicesDep, _session: SessionDep
) -> Response:
    key = parse_id(run_id)
    try:
        async with services.db.write() as conn:
            run = await runs_repo.request_cancel(conn, key)
    except Conflict:
        return redirect(request, f"/runs/{key}", flash="This run had already finished.")
    message = (
        "Run cancelled."
        if run["status"] == "cancelled"
        else "Cancel requested: the worker is stopping the run."
    )
    return redirect(request, f"/runs/{key}", flash=message)
