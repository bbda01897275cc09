"""`orc jobs list|show|apply|delete`, against a running server (ORC_URL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from orcrustator.cli._common import console, fail
from orcrustator.cli.job_files import JobFileError, load_jobs
from orcrustator.cli.output import print_json, runs_table, when
from orcrustator.cli.remote import Api
from orcrustator.plugins.secrets import mask_config

app = typer.Typer(help="Manage jobs on the server (ORC_URL).", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
_JOB_FIELDS = (
    "description",
    "schedule",
    "is_active",
    "timezone",
    "max_retries",
    "retry_delay_seconds",
    "timeout_seconds",
    "max_active_runs",
    "catchup",
)


@app.command("list")
def list_jobs(as_json: JsonOption = False) -> None:
    """List jobs with their schedule and next run."""
    with Api() as api:
        jobs = api.get("/jobs", limit=1000)
    if as_json:
        print_json(jobs)
        return
    table = Table("job_name", "schedule", "timezone", "active", "next run (UTC)", "job_id")
    for job in jobs:
        table.add_row(
            job["job_name"],
            job["schedule"],
            job["timezone"],
            "yes" if job["is_active"] else "paused",
            when(job["next_run_at"]),
            job["job_id"],
        )
    console.print(table if jobs else "no jobs yet: create some with `orc jobs apply -f jobs.yaml`")


@app.command()
def show(
    job: Annotated[str, typer.Argument(help="job name or id")], as_json: JsonOption = False
) -> None:
    """A job, its tasks and its latest runs."""
    with Api() as api:
        detail = api.find_job(job)
        runs = api.get(f"/jobs/{detail['job_id']}/runs", limit=10)
    if as_json:
        print_json({**detail, "runs": runs})
        return
    console.print(f"[bold]{detail['job_name']}[/]  {detail['job_id']}")
    console.print(
        f"schedule {detail['schedule']} ({detail['timezone']}), "
        f"{'active' if detail['is_active'] else 'paused'}, next run {when(detail['next_run_at'])}"
    )
    tasks = Table("order", "extractor", "loader")
    for task in detail["tasks"]:
        tasks.add_row(
            str(task["task_order"]),
            str(task["extractor_config"]),
            str(task["loader_config"]),
        )
    console.print(tasks)
    console.print(runs_table(runs) if runs else "no runs yet")


def _apply_one(api: Api, desired: dict[str, Any], existing: dict[str, Any] | None) -> str:
    if existing is None:
        api.post("/jobs", desired)
        return "created"
    job_id = existing["job_id"]
    current = api.get(f"/jobs/{job_id}")
    changes = {k: desired[k] for k in _JOB_FIELDS if desired.get(k) != current.get(k)}
    if changes:
        api.patch(f"/jobs/{job_id}", changes)
    stored = {t["task_order"]: t for t in current["tasks"]}
    wanted = {t["task_order"]: t for t in desired["tasks"]}
    task_changes = 0
    for order, task in wanted.items():
        body = {
            "extractor_config": task["extractor_config"],
            "loader_config": task["loader_config"],
        }
        if order not in stored:
            api.post(f"/jobs/{job_id}/tasks", {"task_order": order, **body})
            task_changes += 1
            continue
        shown = stored[order]
        # The server shows secrets masked: compare what it would show for the wanted config.
        if (
            mask_config(body["extractor_config"]) != shown["extractor_config"]
            or mask_config(body["loader_config"]) != shown["loader_config"]
        ):
            api.patch(f"/jobs/{job_id}/tasks/{shown['task_id']}", body)
            task_changes += 1
    for order, shown in stored.items():
        if order not in wanted:
            api.delete(f"/jobs/{job_id}/tasks/{shown['task_id']}")
            task_changes += 1
    return "updated" if changes or task_changes else "unchanged"


@app.command()
def apply(
    file: Annotated[Path, typer.Option("-f", "--file", help="YAML file of jobs")],
    as_json: JsonOption = False,
) -> None:
    """Create or update jobs to match the file (matched by job_name; idempotent)."""
    try:
        desired = load_jobs(file)
    except JobFileError as exc:
        raise fail(f"{file} was not applied:\n{exc}") from exc
    results = []
    with Api() as api:
        existing = {job["job_name"]: job for job in api.get("/jobs", limit=1000)}
        for job in desired:
            action = _apply_one(api, job, existing.get(job["job_name"]))
            results.append({"job_name": job["job_name"], "action": action})
    if as_json:
        print_json(results)
        return
    for result in results:
        console.print(f"{result['job_name']}: {result['action']}")


@app.command()
def delete(
    job: Annotated[str, typer.Argument(help="job name or id")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
) -> None:
    """Delete a job with its tasks and run history."""
    with Api() as api:
        detail = api.find_job(job)
        if not yes:
            typer.confirm(f"delete job '{detail['job_name']}' and all its runs?", abort=True)
        api.delete(f"/jobs/{detail['job_id']}")
    console.print(f"deleted {detail['job_name']}")
