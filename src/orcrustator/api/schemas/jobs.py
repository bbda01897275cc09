"""Jobs and tasks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field, field_validator

from orcrustator.api.schemas._base import PatchModel, RequestModel, ResponseModel
from orcrustator.plugins import secrets
from orcrustator.scheduler.cron import parse_schedule, validate_timezone

PluginConfig = dict[str, Any]


def _check_plugin_config(value: dict[str, Any]) -> dict[str, Any]:
    plugin_type = value.get("type")
    if not isinstance(plugin_type, str) or not plugin_type.strip():
        raise ValueError('must be an object with a "type" naming the plugin, e.g. {"type": "csv"}')
    return value


def _check_schedule(value: str) -> str:
    parse_schedule(value)
    return value


def _check_timezone(value: str) -> str:
    validate_timezone(value)
    return value


class TaskCreate(RequestModel):
    task_order: int = Field(ge=1, le=10_000, description="position in the job, from 1")
    extractor_config: PluginConfig = Field(description='{"type": <extractor>, ...options}')
    loader_config: PluginConfig = Field(description='{"type": <loader>, ...options}')

    _plugin = field_validator("extractor_config", "loader_config")(_check_plugin_config)


class TaskUpdate(PatchModel):
    task_order: int | None = Field(default=None, ge=1, le=10_000)
    extractor_config: PluginConfig | None = None
    loader_config: PluginConfig | None = None

    @field_validator("extractor_config", "loader_config")
    @classmethod
    def _plugin(cls, value: PluginConfig | None) -> PluginConfig | None:
        return None if value is None else _check_plugin_config(value)


class TaskPublic(ResponseModel):
    task_id: uuid.UUID
    job_id: uuid.UUID
    task_order: int
    extractor_config: PluginConfig = Field(description="secrets and URL passwords masked")
    loader_config: PluginConfig = Field(description="secrets and URL passwords masked")

    created_at: datetime
    updated_at: datetime

    @field_validator("extractor_config", "loader_config")
    @classmethod
    def _mask(cls, value: PluginConfig) -> PluginConfig:
        masked: PluginConfig = secrets.mask_config(value)
        return masked


class _JobOptions(RequestModel):
    description: str | None = Field(default=None, max_length=10_000)
    max_retries: int = Field(default=0, ge=0, le=100)
    retry_delay_seconds: int = Field(default=60, ge=0, le=7 * 86_400)
    timeout_seconds: int | None = Field(default=None, ge=1, le=7 * 86_400)
    max_active_runs: int = Field(default=1, ge=1, le=1_000)
    catchup: bool = False


class JobCreate(_JobOptions):
    job_name: str = Field(min_length=1, max_length=255)
    schedule: str = Field(
        min_length=1,
        max_length=255,
        description="cron: 5 fields, 6 fields with seconds first, or @hourly/@daily/…",
        examples=["*/5 * * * *"],
    )
    is_active: bool = True
    timezone: str = Field(default="UTC", max_length=64, description="IANA name, e.g. Europe/Berlin")
    tasks: list[TaskCreate] = Field(default_factory=list, max_length=1_000)

    _schedule = field_validator("schedule")(_check_schedule)
    _timezone = field_validator("timezone")(_check_timezone)


class JobUpdate(PatchModel):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"description", "timeout_seconds"})

    job_name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    schedule: str | None = Field(default=None, min_length=1, max_length=255)
    is_active: bool | None = None
    timezone: str | None = Field(default=None, max_length=64)
    max_retries: int | None = Field(default=None, ge=0, le=100)
    retry_delay_seconds: int | None = Field(default=None, ge=0, le=7 * 86_400)
    timeout_seconds: int | None = Field(default=None, ge=1, le=7 * 86_400)
    max_active_runs: int | None = Field(default=None, ge=1, le=1_000)
    catchup: bool | None = None

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return None if value is None else _check_schedule(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)


class JobPublic(ResponseModel):
    job_id: uuid.UUID
    job_name: str
    description: str | None
    schedule: str
    is_active: bool
    timezone: str
    max_retries: int
    retry_delay_seconds: int
    timeout_seconds: int | None
    max_active_runs: int
    catchup: bool
    created_at: datetime
    updated_at: datetime
    next_run_at: datetime | None = Field(
        default=None, description="the next scheduled slot; null while the job is paused"
    )


class JobDetail(JobPublic):
    tasks: list[TaskPublic]
