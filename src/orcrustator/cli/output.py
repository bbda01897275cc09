"""Shared rendering for remote commands: tables for people, JSON for scripts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from orcrustator.cli._common import console

STATUS_STYLE = {
    "success": "green",
    "failed": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "queued": "blue",
}


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


def status(text: str | None) -> str:
    if not text:
        return ""
    return f"[{STATUS_STYLE.get(text, 'white')}]{text}[/]"


def when(value: str | None) -> str:
    """An ISO timestamp as local-free, second-precision UTC text."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def runs_table(runs: list[dict[str, Any]]) -> Table:
    table = Table("run_id", "status", "trigger", "attempt", "created", "duration", "start delay")
    for run in runs:
        table.add_row(
            run["run_id"],
            status(run["status"]),
            run["triggered_by"],
            str(run["attempt"]),
            when(run["created_at"]),
            seconds(run.get("duration_seconds")),
            seconds(run.get("start_delay_seconds")),
        )
    return table
