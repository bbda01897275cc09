"""Runs: trigger by hand, list, inspect, cancel, read logs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from orcrustator.api.deps import CurrentUser, ServicesDep
from orcrustator.api.presenters import run_detail
from orcrustator.api.schemas.errors import error_responses
from orcrustator.api.schemas.runs import LogLine, RunDetail, RunPublic, RunStatus
from orcrustator.db.repo import jobs as jobs_repo
from orcrustator.db.repo import runs as runs_repo

router = APIRouter(tags=["runs"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


@router.post("/jobs/{job_id}/runs", response_model=RunPublic, status_code=status.HTTP_202_ACCEPTED)
async def trigger_run(job_id: uuid.UUID, services: ServicesDep, _user: CurrentUser) -> RunPublic:
    async with services.db.write() as conn:
        record = await runs_repo.create_manual(conn, job_id)
    return RunPublic.model_validate(record)


async def _list(
    response: Response,
    services: ServicesDep,
    *,
    limit: int,
    offset: int,
    status: str | None,
    job_id: uuid.UUID | None,
) -> list[RunPublic]:
    async with services.db.read() as conn:
        if job_id is not None:
            await jobs_repo.get(conn, job_id)
        records = await runs_repo.list_page(
            conn, limit=limit, offset=offset, status=status, job_id=job_id
        )
        total = await services.totals.total(
            ("runs", status, job_id),
            offset=offset,
            limit=limit,
            page_size=len(records),
            count=lambda: runs_repo.count(conn, status=status, job_id=job_id),
        )
    response.headers["X-Total-Count"] = str(total)
    return [RunPublic.model_validate(r) for r in records]


@router.get("/jobs/{job_id}/runs", response_model=list[RunPublic])
async def list_job_runs(
    job_id: uuid.UUID,
    response: Response,
    services: ServicesDep,
    _user: CurrentUser,
    limit: Limit = 100,
    offset: Offset = 0,
    status: RunStatus | None = None,
) -> list[RunPublic]:
    return await _list(response, services, limit=limit, offset=offset, status=status, job_id=job_id)


@router.get("/runs", response_model=list[RunPublic])
async def list_runs(
    response: Response,
    services: ServicesDep,
    _user: CurrentUser,
    limit: Limit = 100,
    offset: Offset = 0,
    status: RunStatus | None = None,
    job_id: uuid.UUID | None = None,
) -> list[RunPublic]:
    return await _list(response, services, limit=limit, offset=offset, status=status, job_id=job_id)


@router.get("/runs/{run_id}", response_model=RunDetail)
async def get_run(run_id: uuid.UUID, services: ServicesDep, _user: CurrentUser) -> RunDetail:
    async with services.db.read() as conn:
        run = await runs_repo.get(conn, run_id)
        task_runs = await runs_repo.task_runs_for(conn, run_id)
    return run_detail(run, task_runs)


@router.post("/runs/{run_id}/cancel", response_model=RunPublic, responses=error_responses(409))
async def cancel_run(run_id: uuid.UUID, services: ServicesDep, _user: CurrentUser) -> RunPublic:
    async with services.db.write() as conn:
        record = await runs_repo.request_cancel(conn, run_id)
    return RunPublic.model_validate(record)


@router.get("/runs/{run_id}/logs", response_model=list[LogLine])
async def run_logs(
    run_id: uuid.UUID,
    services: ServicesDep,
    _user: CurrentUser,
    after_id: Annotated[int, Query(ge=0, description="only lines after this log_id")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[LogLine]:
    async with services.db.read() as conn:
        records = await runs_repo.logs_for(conn, run_id, after_id=after_id, limit=limit)
    return [LogLine.model_validate(r) for r in records]
