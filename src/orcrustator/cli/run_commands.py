"""`orc runs list|show|trigger|cancel|logs`, against a running server (ORC_URL)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from orcrustator.cli._common import console
from orcrustator.cli.output import print_json, runs_table, seconds, status, when
from orcrustator.cli.remote import Api

app = typer.Typer(help="Trigger and inspect runs on the server (ORC_URL).", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
FINISHED = ("success", "failed", "cancelled")
POLL_SECONDS = 0.5


@app.command("list")
def list_runs(
    job: Annotated[str | None, typer.Option(help="only this job (name or id)")] = None,
    run_status: Annotated[str | None, typer.Option("--status", help="queued, running, …")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    as_json: JsonOption = False,
) -> None:
    """The latest runs, newest first."""
    with Api() as api:
        job_id = api.find_job(job)["job_id"] if job else None
        runs = api.get("/runs", job_id=job_id, status=run_status, limit=limit)
    if as_json:
        print_json(runs)
        return
    console.print(runs_table(runs) if runs else "no runs")


def _detail_table(run: dict[str, Any]) -> Table:
    table = Table("task", "status", "rows extracted", "rows loaded", "started", "error")
    for task in run["task_runs"]:
        table.add_row(
            str(task["task_order"])
            + (f" (attempt {task['attempt']})" if task["attempt"] > 1 else ""),
            status(task["status"]),
            f"{task['rows_extracted']:,}",
            f"{task['rows_loaded']:,}",
            when(task["started_at"]),
            task["error_message"] or "",
        )
    return table


@app.command()
def show(run_id: str, as_json: JsonOption = False) -> None:
    """One run with its task runs."""
    with Api() as api:
        run = api.get(f"/runs/{run_id}")
    if as_json:
        print_json(run)
        return
    console.print(
        f"run {run['run_id']}: {status(run['status'])} ({run['triggered_by']}, attempt "
        f"{run['attempt']}), duration {seconds(run['duration_seconds']) or '-'}"
    )
    if run["error_message"]:
        console.print(f"[red]{run['error_message']}[/]")
    console.print(_detail_table(run))


def _progress_line(run: dict[str, Any], started: float) -> Table:
    grid = Table.grid(padding=(0, 2))
    current = next((t for t in reversed(run["task_runs"]) if t["status"] == "running"), None)
    task = run["task_runs"][-1] if run["task_runs"] else None
    shown = current or task
    grid.add_row(
        status(run["status"]),
        f"task {shown['task_order']}" if shown else "waiting for a worker",
        f"{shown['rows_extracted']:,} extracted / {shown['rows_loaded']:,} loaded" if shown else "",
        f"{time.monotonic() - started:.1f} s",
    )
    return grid


def wait_for(api: Api, run_id: str, *, quiet: bool) -> dict[str, Any]:
    started = time.monotonic()
    run: dict[str, Any] = api.get(f"/runs/{run_id}")
    if quiet:
        while run["status"] not in FINISHED:
            time.sleep(POLL_SECONDS)
            run = api.get(f"/runs/{run_id}")
        return run
    with Live(_progress_line(run, started), console=console, refresh_per_second=4) as live:
        while run["status"] not in FINISHED:
            time.sleep(POLL_SECONDS)
            run = api.get(f"/runs/{run_id}")
            live.update(_progress_line(run, started))
    return run


@app.command()
def trigger(
    job: Annotated[str, typer.Argument(help="job name or id")],
    wait: Annotated[bool, typer.Option("--wait", help="follow the run until it finishes")] = False,
    as_json: JsonOption = False,
) -> None:
    """Queue a run now; with --wait, exit non-zero unless it succeeds."""
    with Api() as api:
        job_id = api.find_job(job)["job_id"]
        run = api.post(f"/jobs/{job_id}/runs")
        if wait:
            run = wait_for(api, run["run_id"], quiet=as_json)
    if as_json:
        print_json(run)
    elif wait:
        console.print(f"run {run['run_id']} finished: {status(run['status'])}")
        if run.get("task_runs"):
            console.print(_detail_table(run))
        if run["error_message"] and run["status"] != "success":
            console.print(f"[red]{run['error_message']}[/]")
    else:
        console.print(f"queued run {run['run_id']}")
    if wait and run["status"] != "success":
        raise typer.Exit(1)


@app.command()
def cancel(run_id: str, as_json: JsonOption = False) -> None:
    """Cancel a queued run at once, or stop a running one."""
    with Api() as api:
        run = api.post(f"/runs/{run_id}/cancel")
    if as_json:
        print_json(run)
    else:
        console.print(f"run {run_id}: {status(run['status'])}")


@app.command()
def logs(
    run_id: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new lines")] = False,
    as_json: JsonOption = False,
) -> None:
    """A run's log lines; with --follow, until the run finishes."""
    after = 0
    with Api() as api:
        while True:
            lines = api.get(f"/runs/{run_id}/logs", after_id=after)
            for line in lines:
                if as_json:
                    print_json(line)
                else:
                    console.print(
                        f"{when(line['ts'])} {line['level']:<7} {line['message']}",
                        markup=False,
                        highlight=False,
                    )
                after = line["log_id"]
            if not follow:
                return
            finished = not lines and api.get(f"/runs/{run_id}")["status"] in FINISHED
            # One last read after the run finished: lines written just before it did.
            if finished and not api.get(f"/runs/{run_id}/logs", after_id=after):
                return
            time.sleep(POLL_SECONDS)
