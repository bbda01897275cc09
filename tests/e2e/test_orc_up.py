"""`orc up` as a user runs it: a real process, real HTTP, a real token."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import create_postgres_database, drop_postgres_database, postgres_server_url
from tests.e2e.conftest import ORC, OrcProcess, free_port

ADMIN_PASSWORD = "e2e-admin-password"


def _drive_api(base: str, password: str) -> None:
    with httpx.Client(base_url=base, timeout=10.0) as http:
        assert http.get("/health").json() == {"status": "ok"}
        assert http.get("/api/v1/jobs").status_code == 401
        token = http.post(
            "/api/v1/auth/token", data={"username": "admin", "password": password}
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        job = http.post(
            "/api/v1/jobs",
            json={
                "job_name": "e2e",
                "schedule": "*/10 * * * * *",
                "tasks": [
                    {
                        "task_order": 1,
                        "extractor_config": {"type": "generate", "rows": 5},
                        "loader_config": {"type": "null"},
                    }
                ],
            },
        )
        assert job.status_code == 201, job.text
        job_id = job.json()["job_id"]
        assert http.get(f"/api/v1/jobs/{job_id}").json()["tasks"][0]["task_order"] == 1
        run = http.post(f"/api/v1/jobs/{job_id}/runs")
        assert run.status_code == 202
        runs = http.get("/api/v1/runs", params={"job_id": job_id}).json()
        assert [r["run_id"] for r in runs if r["triggered_by"] == "manual"] == [
            run.json()["run_id"]
        ]
        # The engine runs in the same process: the run reaches success with its rows recorded.
        run_url = f"/api/v1/runs/{run.json()['run_id']}"
        deadline = time.monotonic() + 30
        detail = http.get(run_url).json()
        while detail["status"] not in ("success", "failed") and time.monotonic() < deadline:
            time.sleep(0.1)
            detail = http.get(run_url).json()
        assert detail["status"] == "success", detail
        assert [t["rows_loaded"] for t in detail["task_runs"]] == [5]
        logs = http.get(f"{run_url}/logs").json()
        assert any("task 1 (generate → null)" in line["message"] for line in logs)
        assert http.get(f"/api/v1/jobs/{job_id}").json()["next_run_at"] is not None
        scrape = http.get("/metrics").text
        for line in (
            'orc_runs_finished_total{job="e2e",status="success"}',
            'orc_rows_loaded_total{job="e2e"}',
            'orc_run_duration_seconds_count{job="e2e"}',
            "orc_live_workers 1.0",
            "orc_live_schedulers 1.0",
            'orc_runs{status="running"}',
            "orc_queue_depth",
            "orc_scheduler_heartbeat_age_seconds",
            "orc_run_start_delay_seconds_bucket",
        ):
            assert line in scrape, f"{line} missing from /metrics"
        bad = http.post("/api/v1/jobs", json={"job_name": "bad", "schedule": "every day"})
        assert bad.status_code == 422
        assert bad.json()["field"] == "schedule"


def test_orc_up_on_sqlite_serves_the_api(
    tmp_path: Path, orc_env: dict[str, str], processes: list[OrcProcess]
) -> None:
    port = free_port()
    env = {**orc_env, "ORC_ADMIN_PASSWORD": ADMIN_PASSWORD}
    proc = OrcProcess(["up", "--port", str(port)], env, tmp_path, "up")
    processes.append(proc)
    base = f"http://127.0.0.1:{port}"
    proc.wait_for_http(f"{base}/health")
    assert (tmp_path / "orc.db").exists(), "the embedded default is SQLite in the working directory"
    _drive_api(base, ADMIN_PASSWORD)
    assert proc.stop(signal.SIGTERM) == 0
    assert '"path": "/api/v1/jobs"' in proc.output(), "one JSON access line per request"


def test_orc_up_prints_a_generated_admin_password_once(
    tmp_path: Path, orc_env: dict[str, str], processes: list[OrcProcess]
) -> None:
    port = free_port()
    first = OrcProcess(["up", "--port", str(port)], orc_env, tmp_path, "first")
    processes.append(first)
    first.wait_for_http(f"http://127.0.0.1:{port}/health")
    first.stop()
    text = first.output()
    assert "password:" in text
    password = text.split("password:", 1)[1].split()[0]
    assert len(password) >= 12

    second = OrcProcess(["up", "--port", str(port)], orc_env, tmp_path, "second")
    processes.append(second)
    second.wait_for_http(f"http://127.0.0.1:{port}/health")
    _drive_api(f"http://127.0.0.1:{port}", password)
    second.stop()
    assert "password:" not in second.output(), "the password is printed on the first start only"


def test_orc_up_refuses_a_short_admin_password(tmp_path: Path, orc_env: dict[str, str]) -> None:
    env = {**orc_env, "ORC_ADMIN_PASSWORD": "short"}
    result = subprocess.run(
        [ORC, "up", "--port", str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "at least 12 characters" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_db_commands_and_orc_api_on_postgresql(
    tmp_path: Path, orc_env: dict[str, str], processes: list[OrcProcess]
) -> None:
    url = create_postgres_database(postgres_server_url(), "orc_e2e")
    try:
        env = {**orc_env, "DATABASE_URL": url.replace("postgresql://", "postgres://", 1)}

        def orc(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [ORC, *args],
                cwd=tmp_path,
                env=env,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=60,
            )

        assert "already exists" in orc("db", "create").stdout
        assert orc("db", "current").stdout.count("none") == 1
        refused = orc("api", "--port", str(free_port()))
        assert refused.returncode != 0 and "orc db upgrade" in refused.stderr
        upgraded = orc("db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        assert "up to date" in orc("db", "current").stdout
        created = orc(
            "users", "create", "ops", "--admin", "--password-stdin", stdin="ops-password-123\n"
        )
        assert created.returncode == 0, created.stderr
        short = orc("users", "create", "dev", "--password-stdin", stdin="short\n")
        assert short.returncode != 0 and "at least 12 characters" in short.stderr
        listed = orc("users", "list").stdout
        assert "ops" in listed and "dev" not in listed

        port = free_port()
        api = OrcProcess(["api", "--port", str(port)], env, tmp_path, "api")
        processes.append(api)
        api.wait_for_http(f"http://127.0.0.1:{port}/health")
        token = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/token",
            data={"username": "ops", "password": "ops-password-123"},
        )
        assert token.status_code == 200
        assert api.stop() == 0

        down = orc("db", "downgrade", "base")
        assert down.returncode == 0 and "base" in down.stdout
    finally:
        drop_postgres_database(url)


@pytest.mark.parametrize("url", ["mysql://root@localhost/x", "not a url"])
def test_unsupported_database_url_is_a_clear_error(
    url: str, tmp_path: Path, orc_env: dict[str, str]
) -> None:
    result = subprocess.run(
        [ORC, "db", "upgrade"],
        cwd=tmp_path,
        env={**orc_env, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
