"""The happy path through every resource, on both backends."""

from __future__ import annotations

from tests.integration.conftest import Api, job_body


def test_health_answers_ok(admin: Api) -> None:
    response = admin.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_job_task_run_round_trip(admin: Api) -> None:
    created = admin.post("/api/v1/jobs", json=job_body())
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["tasks"][0]["extractor_config"] == {"type": "generate", "rows": 10}
    assert job["next_run_at"].endswith("T02:00:00Z")

    run = admin.post(f"/api/v1/jobs/{job['job_id']}/runs")
    assert run.status_code == 202
    assert run.json()["status"] == "queued"
    assert run.json()["triggered_by"] == "manual"

    detail = admin.get(f"/api/v1/runs/{run.json()['run_id']}")
    assert detail.status_code == 200
    assert detail.json()["task_runs"] == []
