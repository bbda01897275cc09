"""Stored records → what the templates show: words for schedules, durations, masked configs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from orcrustator.api.presenters import next_run_at
from orcrustator.db.repo._rows import Record
from orcrustator.plugins.secrets import mask_config
from orcrustator.scheduler.cron import describe, parse_schedule
from orcrustator.ui.rendering import as_utc

ACTIVE_STATUSES = frozenset({"queued", "running"})


@lru_cache(maxsize=4096)
def schedule_words(expression: str) -> str:
    try:
        return describe(parse_schedule(expression))
    except ValueError:
        return expression


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    later, earlier = as_utc(later), as_utc(earlier)
    if later is None or earlier is None:
        return None
    return (later - earlier).total_seconds()


@dataclass(frozen=True)
class RunView:
    """A run record for templates: its columns as attributes, plus derived timings."""

    run: Record
    job_name: str | None = None

    def __getattr__(self, name: str) -> Any:
        try:
            return self.run[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def is_active(self) -> bool:
        return self.run["status"] in ACTIVE_STATUSES

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish; for a running run, so far."""
        end = self.run["finished_at"]
        if end is None and self.run["status"] == "running":
            end = datetime.now(UTC)
        return _seconds(end, self.run["started_at"])

    @property
    def start_delay(self) -> float | None:
        """How late a scheduled run started (`started_at - scheduled_for`)."""
        return _seconds(self.run["started_at"], self.run.get("scheduled_for"))

    @property
    def queue_wait(self) -> float | None:
        return _seconds(self.run["started_at"], self.run["created_at"])


@dataclass(frozen=True)
class JobRow:
    job: Record
    last_run: RunView | None
    next_run: datetime | None

    @property
    def schedule_words(self) -> str:
        return schedule_words(str(self.job["schedule"]))


def job_rows(jobs: list[Record], latest: dict[Any, Record], now: datetime) -> list[JobRow]:
    rows = []
    for job in jobs:
        last = latest.get(job["job_id"])
        rows.append(
            JobRow(
                job=job,
                last_run=None if last is None else RunView(last),
                next_run=next_run_at(job, now),
            )
        )
    return rows


@dataclass(frozen=True)
class ConfigEntry:
    key: str
    value: str | None = None
    children: list[ConfigEntry] = field(default_factory=list)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def config_entries(config: Any) -> list[ConfigEntry]:
    """A masked config as nested key/value entries, its `type` left out (shown as a heading)."""
    masked = mask_config(config)
    if not isinstance(masked, dict):
        return [ConfigEntry("value", _scalar(masked))]
    return [_entry(k, v) for k, v in masked.items() if k != "type"]


def _entry(key: str, value: Any) -> ConfigEntry:
    if isinstance(value, dict):
        return ConfigEntry(key, None if value else "{}", [_entry(k, v) for k, v in value.items()])
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return ConfigEntry(key, ", ".join(_scalar(v) for v in value) or "[]")
        return ConfigEntry(key, None, [_entry(f"[{i}]", v) for i, v in enumerate(value)])
    return ConfigEntry(key, _scalar(value))


def plugin_type(config: Any) -> str:
    if isinstance(config, dict) and isinstance(config.get("type"), str):
        return str(config["type"])
    return "?"


@dataclass(frozen=True)
class TaskView:
    task_order: int
    extractor_type: str
    loader_type: str
    extractor: list[ConfigEntry]
    loader: list[ConfigEntry]


def task_view(task: Record) -> TaskView:
    return TaskView(
        task_order=int(task["task_order"]),
        extractor_type=plugin_type(task["extractor_config"]),
        loader_type=plugin_type(task["loader_config"]),
        extractor=config_entries(task["extractor_config"]),
        loader=config_entries(task["loader_config"]),
    )


def snapshot_views(snapshot: Any) -> list[TaskView]:
    """The run's stored task configs (secrets masked) in task order."""
    if not isinstance(snapshot, list):
        return []
    views = []
    for index, task in enumerate(snapshot, start=1):
        if isinstance(task, dict):
            views.append(
                task_view(
                    {
                        "task_order": task.get("task_order", index),
                        "extractor_config": task.get("extractor_config", {}),
                        "loader_config": task.get("loader_config", {}),
                    }
                )
            )
    return views


@dataclass(frozen=True)
class TaskRunView:
    """A task-run record for templates, with the plugin types from the run's snapshot."""

    record: Record
    extractor_type: str | None
    loader_type: str | None

    def __getattr__(self, name: str) -> Any:
        try:
            return self.record[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def duration(self) -> float | None:
        end = self.record["finished_at"]
        if end is None and self.record["status"] == "running":
            end = datetime.now(UTC)
        return _seconds(end, self.record["started_at"])


def task_run_views(task_runs: list[Record], snapshot: list[TaskView]) -> list[TaskRunView]:
    by_order = {t.task_order: t for t in snapshot}
    views = []
    for record in task_runs:
        task = by_order.get(int(record["task_order"]))
        views.append(
            TaskRunView(
                record,
                None if task is None else task.extractor_type,
                None if task is None else task.loader_type,
            )
        )
    return views
