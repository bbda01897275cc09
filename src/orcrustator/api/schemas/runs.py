"""Runs, task runs and run logs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, computed_field, field_validator

from orcrustator.api.schemas._base import ResponseModel
from orcrustator.plugins import secrets

RunStatus = Literal["queued", "running", "success", "failed", "cancelled"]


class TaskRunPublic(ResponseModel):
    task_id: uuid.UUID | None
    task_order: int
    attempt: int
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    rows_extracted: int
    rows_loaded: int
    bytes_loaded: int
    error_message: str | None


class RunPublic(ResponseModel):
    run_id: uuid.UUID
    job_id: uuid.UUID
    status: RunStatus
    triggered_by: str
    started_at: datetime | None
    finished_at: datetime | None
    error_message: str | None
    created_at: datetime
    scheduled_for: datetime | None
    attempt: int
    worker_id: str | None
    heartbeat_at: datetime | None
    cancel_requested: bool
    not_before: datetime | None

    @computed_field(description="started_at - scheduled_for, for scheduled runs that started")
    def start_delay_seconds(self) -> float | None:
        if self.started_at is None or self.scheduled_for is None:
            return None
        return (self.started_at - self.scheduled_for).total_seconds()

    @computed_field(description="finished_at - started_at")
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class RunDetail(RunPublic):
    task_runs: list[TaskRunPublic]
    config_snapshot: list[dict[str, Any]] | None = Field(
        default=None,
        description="the task configs this run executed with (references unresolved, "
        "secrets masked)",
    )

    @field_validator("config_snapshot")
    @classmethod
    def _mask(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        return None if value is None else [secrets.mask_config(task) for task in value]


class LogLine(ResponseModel):
    log_id: int
    ts: datetime
    level: str
    message: str
