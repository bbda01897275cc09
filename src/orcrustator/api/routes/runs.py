"""Runs: trigger by hand, list, inspect, cancel, read logs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from orcrustator.api.deps import CurrentUser, ServicesDep
from orcrustator.api.json_response import JsonBody
from orcrustator.api.pagination import (
    AFTER_DESCRIPTION,
    MAX_CURSOR_LENGTH,
    page_headers,
    parse_run_cursor,
    reject_offset_with_cursor,
    run_cursor,
)
from orcrustator.api.presenters import run_detail
from orcrustator.api.schemas.errors import error_responses
from orcrustator.api.schemas.runs import LogLine, RunDetail, RunPublic, RunStatus
from orcrustator.db.repo import jobs as jobs_repo
from orcrustator.db.repo import runs as runs_repo

router = APIRouter(tags=["runs"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
After = Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH, description=AFTER_DESCRIPTION)]

_RUNS = JsonBody(list[RunPublic])
_RUN_DETAIL = JsonBody(RunDetail)
_LOG_LINES = JsonBody(list[LogLine])


@router.post("/jobs/{job_id}/runs", response_model=RunPublic, status_code=status.HTTP_202_ACCEPTED)
async def trigger_run(job_id: uuid.UUID, services: ServicesDep, _user: CurrentUser) -> RunPublic:
    async with services.db.write() as conn:
        record = await runs_repo.create_manual(conn, job_id)
    return RunPublic.model_validate(record)


async def _list(
    request: Request,
    services: ServicesDep,
    *,
    limit: int,
    offset: int,
    after: str | None,
    status: str | None,
    job_id: uuid.UUID | None,
) -> Response:
    reject_offset_with_cursor(offset, after)
    position = None if after is None else parse_run_cursor(after)
    async with services.db.read() as conn:
        # One row past the page: it tells whether a next page exists and, often, the total.
        records = await runs_repo.list_page(
            conn, limit=limit + 1, offset=offset, after=position, status=status, job_id=job_id
        )
        if job_id is not None and not records:
            # A run of the job proves the job exists; an empty page may mean there is no job.
            await jobs_repo.get(conn, job_id)
        total = await services.totals.total(
            ("runs", status, job_id),
            offset=offset if position is None else None,
            limit=limit + 1,
            page_size=len(records),
            count=lambda: runs_repo.count(conn, status=status, job_id=job_id),
        )
    following = run_cursor(records[limit - 1]) if len(records) > limit else None
    return _RUNS.response(records[:limit], headers=page_headers(request.scope, total, following))


@router.get("/jobs/{job_id}/runs", response_model=list[RunPublic])
async def list_job_runs(
    job_id: uuid.UUID,
    request: Request,
    services: ServicesDep,
    _user: CurrentUser,
    limit: Limit = 100,
    offset: Offset = 0,
    after: After = None,
    status: RunStatus | None = None,
) -> Response:
    return await _list(
        request, services, limit=limit, offset=offset, after=after, status=status, job_id=job_id
    )


@router.get("/runs", response_model=list[RunPublic])
async def list_runs(
    request: Request,
    services: ServicesDep,
    _user: CurrentUser,
    limit: Limit = 100,
    offset: Offset = 0,
    after: After = None,
    status: RunStatus | None = None,
    job_id: uuid.UUID | None = None,
) -> Response:
    return await _list(
        request, services, limit=limit, offset=offset, after=after, status=status, job_id=job_id
    )


@router.get("/runs/{run_id}", response_model=RunDetail)
async def get_run(run_id: uuid.UUID, services: ServicesDep, _user: CurrentUser) -> Response:
    async with services.db.read() as conn:
        run = await runs_repo.get(conn, run_id)
        task_runs = await runs_repo.task_runs_for(conn, run_id)
    return _RUN_DETAIL.response(run_detail(run, task_runs))


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
) -> Response:
    async with services.db.read() as conn:
        records = await runs_repo.logs_for(conn, run_id, after_id=after_id, limit=limit)
    return _LOG_LINES.response(records)
