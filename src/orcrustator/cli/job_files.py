"""`orc jobs apply -f`: read a YAML file of jobs and validate it as the API would.

The file holds a list of jobs (top level, or under `jobs:`). A job is the API's job body; in a
task, `extractor`/`loader` may stand for `extractor_config`/`loader_config`, and `task_order`
defaults to the task's position.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from orcrustator.api.errors import field_path
from orcrustator.api.schemas.jobs import JobCreate
from orcrustator.errors import InvalidInput
from orcrustator.plugins import registry


class JobFileError(Exception):
    """The file cannot be applied; the message names the job and field."""


def _normalise_task(task: Any, position: int) -> Any:
    if not isinstance(task, dict):
        return task
    task = dict(task)
    if "extractor" in task and "extractor_config" not in task:
        task["extractor_config"] = task.pop("extractor")
    if "loader" in task and "loader_config" not in task:
        task["loader_config"] = task.pop("loader")
    task.setdefault("task_order", position)
    return task


def load_jobs(path: Path) -> list[dict[str, Any]]:
    """Parse and validate; every problem is reported with `jobs[i].field` paths."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise JobFileError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise JobFileError(f"{path} is not valid YAML: {exc}") from exc
    items = raw.get("jobs") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise JobFileError(f"{path}: expected a list of jobs (top level, or under 'jobs:')")
    jobs: list[dict[str, Any]] = []
    problems: list[str] = []
    names: set[str] = set()
    for index, item in enumerate(items):
        where = f"jobs[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: each job is a mapping with job_name, schedule, tasks")
            continue
        body = dict(item)
        body["tasks"] = [
            _normalise_task(t, i) for i, t in enumerate(body.get("tasks") or [], start=1)
        ]
        try:
            job = JobCreate.model_validate(body)
        except ValidationError as exc:
            for err in exc.errors():
                message = str(err["msg"]).removeprefix("Value error, ")
                if err["type"] == "missing":
                    message = "is required"
                elif err["type"] == "extra_forbidden":
                    message = "is not a known field"
                problems.append(f"{where}.{field_path(('body', *err['loc']))}: {message}")
            continue
        if job.job_name in names:
            problems.append(f"{where}.job_name: '{job.job_name}' appears twice in the file")
        names.add(job.job_name)
        for t_index, task in enumerate(job.tasks):
            for kind, key in (("extractor", "extractor_config"), ("loader", "loader_config")):
                try:
                    registry.validate_config(kind, getattr(task, key))  # type: ignore[arg-type]
                except InvalidInput as exc:
                    inner = f".{exc.field}" if exc.field else ""
                    message = exc.message.removeprefix(f"{exc.field}: ")
                    problems.append(f"{where}.tasks[{t_index}].{key}{inner}: {message}")
        jobs.append(job.model_dump(mode="json"))
    if problems:
        raise JobFileError("\n".join(problems))
    return jobs
