"""The CLI over HTTP against a real `orc up`, as a user types it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ORC, OrcProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "cli-admin-password"

Orc = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def orc(tmp_path: Path, orc_env: dict[str, str], processes: list[OrcProcess]) -> Iterator[Orc]:
    port = free_port()
    env = {**orc_env, "ORC_ADMIN_PASSWORD": PASSWORD}
    server = OrcProcess(["up", "--port", str(port)], env, tmp_path, "server")
    processes.append(server)
    server.wait_for_http(f"http://127.0.0.1:{port}/health")
    client_env = {
        **orc_env,
        "ORC_URL": f"http://127.0.0.1:{port}",
        "ORC_CONFIG_DIR": str(tmp_path / "config"),
        "COLUMNS": "200",
    }

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ORC, *args],
            cwd=tmp_path,
            env=client_env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    yield run
    server.stop()


def test_cli_drives_a_remote_server(orc: Orc, tmp_path: Path) -> None:
    assert "orc login" in orc("jobs", "list").stderr, "before login the CLI says how to log in"
    logged_in = orc("login", "-u", "admin", "--password-stdin", stdin=f"{PASSWORD}\n")
    assert logged_in.returncode == 0, logged_in.stderr
    tokens = tmp_path / "config" / "tokens.json"
    assert tokens.stat().st_mode & 0o777 == 0o600

    example = str(ROOT / "examples" / "jobs.yaml")
    first = orc("jobs", "apply", "-f", example, "--json")
    assert first.returncode == 0, first.stderr
    assert {r["action"] for r in json.loads(first.stdout)} == {"created"}
    again = orc("jobs", "apply", "-f", example, "--json")
    assert {r["action"] for r in json.loads(again.stdout)} == {"unchanged"}, "apply is idempotent"

    listed = json.loads(orc("jobs", "list", "--json").stdout)
    assert sorted(j["job_name"] for j in listed) == ["example-incremental", "example-numbers"]

    waited = orc("runs", "trigger", "example-numbers", "--wait", "--json")
    assert waited.returncode == 0, waited.stdout + waited.stderr
    run = json.loads(waited.stdout)
    assert run["status"] == "success"
    assert [t["rows_loaded"] for t in run["task_runs"]][:2] == [100_000, 100_000]
    assert (tmp_path / "data" / "examples" / "label_counts.csv").exists()

    incremental = orc("runs", "trigger", "example-incremental", "--wait", "--json")
    assert json.loads(incremental.stdout)["task_runs"][0]["rows_loaded"] == 100_000
    nothing_new = orc("runs", "trigger", "example-incremental", "--wait", "--json")
    assert json.loads(nothing_new.stdout)["task_runs"][0]["rows_loaded"] == 0

    logs = orc("runs", "logs", run["run_id"])
    assert "task 3 (sql → csv) started" in logs.stdout
    shown = orc("runs", "show", run["run_id"])
    assert "success" in shown.stdout
    assert "100,000" in shown.stdout
    assert "generate" in orc("plugins", "list").stdout


def test_a_failing_waited_run_exits_non_zero(orc: Orc, tmp_path: Path) -> None:
    orc("login", "-u", "admin", "--password-stdin", stdin=f"{PASSWORD}\n")
    jobs = tmp_path / "failing.yaml"
    jobs.write_text(
        "- job_name: broken\n"
        "  schedule: '@daily'\n"
        "  tasks:\n"
        "    - extractor: {type: generate, rows: 10, fail_after_rows: 5}\n"
        "      loader: {type: 'null'}\n"
    )
    assert orc("jobs", "apply", "-f", str(jobs)).returncode == 0
    failed = orc("runs", "trigger", "broken", "--wait")
    assert failed.returncode == 1
    assert "failed" in failed.stdout


def test_an_invalid_file_names_job_and_field_and_applies_nothing(orc: Orc, tmp_path: Path) -> None:
    orc("login", "-u", "admin", "--password-stdin", stdin=f"{PASSWORD}\n")
    jobs = tmp_path / "bad.yaml"
    jobs.write_text(
        "jobs:\n"
        "  - job_name: fine\n"
        "    schedule: '@daily'\n"
        "  - job_name: wrong\n"
        "    schedule: '61 * * * *'\n"
        "    tasks:\n"
        "      - extractor: {type: generate, rows: -1}\n"
        "        loader: {type: nowhere}\n"
    )
    result = orc("jobs", "apply", "-f", str(jobs))
    assert result.returncode == 1
    assert "jobs[1].schedule: invalid schedule '61 * * * *'" in result.stderr
    assert json.loads(orc("jobs", "list", "--json").stdout) == [], "nothing was applied"
    fixed = jobs.read_text().replace("61 * * * *", "0 * * * *")
    jobs.write_text(fixed)
    again = orc("jobs", "apply", "-f", str(jobs))
    assert "jobs[1].tasks[0].extractor_config.rows" in again.stderr
    assert "jobs[1].tasks[0].loader_config.type: unknown loader type 'nowhere'" in again.stderr
