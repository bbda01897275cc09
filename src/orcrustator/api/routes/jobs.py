"""Jobs: list, create (with tasks), read, change, delete."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from orcrustator.api.deps import CurrentUser, ServicesDep
from orcrustator.api.json_response import JsonBody
from orcrustator.api.pagination import (
    AFTER_DESCRIPTION,
    MAX_CURSOR_LENGTH,
    job_cursor,
    page_headers,
    parse_job_cursor,
    reject_offset_with_cursor,
)
from orcrustator.api.plugin_checks import check_task_configs
from orcrustator.api.presenters import job_detail, job_public
from orcrustator.api.schemas.errors import error_responses
from orcrustator.api.schemas.jobs import JobCreate, JobDetail, JobPublic, JobUpdate
from orcrustator.db.repo import jobs as jobs_repo
from orcrustator.db.repo import tasks as tasks_repo

router = APIRouter(prefix="/jobs", tags=["jobs"])

_JOBS = JsonBody(list[JobPublic])
_JOB_DETAIL = JsonBody(JobDetail)


@router.get("", response_model=list[JobPublic])
async def list_jobs(
    request: Request,
    services: ServicesDep,
    _user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    after: Annotated[
        str | None, Query(max_length=MAX_CURSOR_LENGTH, description=AFTER_DESCRIPTION)
    ] = None,
    is_active: bool | None = None,
) -> Response:
    reject_offset_with_cursor(offset, after)
    position = None if after is None else parse_job_cursor(after)
    async with services.db.read() as conn:
        # One row past the page: it tells whether a next page exists and, often, the total.
        records = await jobs_repo.list_page(
            conn, limit=limit + 1, offset=offset, after=position, is_active=is_active
        )
        total = await services.totals.total(
            ("jobs", is_active),
            offset=offset if position is None else None,
            limit=limit + 1,
            page_size=len(records),
            count=lambda: jobs_repo.count(conn, is_active=is_active),
        )
    following = job_cursor(records[limit - 1]) if len(records) > limit else None
    now = datetime.now(UTC)
    return _JOBS.response(
        [job_public(r, now) for r in records[:limit]],
        headers=page_headers(request.scope, total, following),
    )


@router.post(
    "",
    response_model=JobDetail,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
)
async def create_job(body: JobCreate, services: ServicesDep, _user: CurrentUser) -> JobDetail:
    for index, task in enumerate(body.tasks):
        check_task_configs(
            extractor_config=task.extractor_config,
            loader_config=task.loader_config,
            data_dir=services.settings.data_dir,
            prefix=f"tasks[{index}].",
        )
    values = body.model_dump(exclude={"tasks"})
    async with services.db.write() as conn:
        job = await jobs_repo.create(conn, values, [t.model_dump() for t in body.tasks])
        tasks = await tasks_repo.list_for_job(conn, job["job_id"])
    return JobDetail.model_validate(job_detail(job, tasks))


@router.get("/{job_id}", response_model=JobDetail)
async def get_job(job_id: uuid.UUID, services: ServicesDep, _user: CurrentUser) -> Response:
    async with services.db.read() as conn:
        job = await jobs_repo.get(conn, job_id)
        tasks = await tasks_repo.list_for_job(conn, job_id)
    return _JOB_DETAIL.response(job_detail(job, tasks))


@router.patch("/{job_id}", response_model=JobDetail, responses=error_responses(409))
async def update_job(
    job_id: uuid.UUID, body: JobUpdate, services: ServicesDep, _user: CurrentUser
) -> JobDetail:
    async with services.db.write() as conn:
        changes = body.changes()
        job = (
            await jobs_repo.update(conn, job_id, changes)
            if changes
            else await jobs_repo.get(conn, job_id)
        )
        tasks = await tasks_repo.list_for_job(conn, job_id)
    return JobDetail.model_validate(job_detail(job, tasks))


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_job(job_id: uuid.UUID, services: ServicesDep, _user: CurrentUser) -> None:
    async with services.db.write() as conn:
        await jobs_repo.delete(conn, job_id)
