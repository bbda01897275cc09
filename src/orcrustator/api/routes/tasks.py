"""Tasks of one job: the ordered extractor → loader steps."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from orcrustator.api.deps import CurrentUser, ServicesDep
from orcrustator.api.json_response import JsonBody
from orcrustator.api.plugin_checks import check_task_configs
from orcrustator.api.schemas.errors import error_responses
from orcrustator.api.schemas.jobs import TaskCreate, TaskPublic, TaskUpdate
from orcrustator.db.repo import jobs as jobs_repo
from orcrustator.db.repo import tasks as tasks_repo
from orcrustator.plugins import secrets

router = APIRouter(prefix="/jobs/{job_id}/tasks", tags=["tasks"])

_TASK = JsonBody(TaskPublic)
_TASKS = JsonBody(list[TaskPublic])


@router.get("", response_model=list[TaskPublic])
async def list_tasks(job_id: uuid.UUID, services: ServicesDep, _user: CurrentUser) -> Response:
    async with services.db.read() as conn:
        records = await tasks_repo.list_for_job(conn, job_id)
        if not records:  # a task proves its job exists; no tasks may mean there is no job
            await jobs_repo.get(conn, job_id)
    return _TASKS.response(records)


@router.post(
    "",
    response_model=TaskPublic,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
)
async def create_task(
    job_id: uuid.UUID, body: TaskCreate, services: ServicesDep, _user: CurrentUser
) -> TaskPublic:
    check_task_configs(
        extractor_config=body.extractor_config,
        loader_config=body.loader_config,
        data_dir=services.settings.data_dir,
    )
    async with services.db.write() as conn:
        await jobs_repo.get(conn, job_id)
        record = await tasks_repo.create(conn, job_id, body.model_dump())
    return TaskPublic.model_validate(record)


@router.get("/{task_id}", response_model=TaskPublic)
async def get_task(
    job_id: uuid.UUID, task_id: uuid.UUID, services: ServicesDep, _user: CurrentUser
) -> Response:
    async with services.db.read() as conn:
        record = await tasks_repo.get(conn, job_id, task_id)
    return _TASK.response(record)


@router.patch("/{task_id}", response_model=TaskPublic, responses=error_responses(409))
async def update_task(
    job_id: uuid.UUID,
    task_id: uuid.UUID,
    body: TaskUpdate,
    services: ServicesDep,
    _user: CurrentUser,
) -> TaskPublic:
    changes = body.changes()
    async with services.db.write() as conn:
        stored = await tasks_repo.get(conn, job_id, task_id)
        for key in ("extractor_config", "loader_config"):
            if key in changes:  # a client may send back the masked secrets it was shown
                changes[key] = secrets.unmask(changes[key], stored[key])
        check_task_configs(
            extractor_config=changes.get("extractor_config"),
            loader_config=changes.get("loader_config"),
            data_dir=services.settings.data_dir,
        )
        record = (
            await tasks_repo.update(conn, job_id, task_id, changes)
            if changes
            else await tasks_repo.get(conn, job_id, task_id)
        )
    return TaskPublic.model_validate(record)


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_task(
    job_id: uuid.UUID, task_id: uuid.UUID, services: ServicesDep, _user: CurrentUser
) -> None:
    async with services.db.write() as conn:
        await tasks_repo.delete(conn, job_id, task_id)
