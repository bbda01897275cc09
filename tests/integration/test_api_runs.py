"""Runs: trigger by hand, list and filter, inspect, cancel, read logs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.conftest import Api, job_body

JOBS = "/api/v1/jobs"
RUNS = "/api/v1/runs"
RUN_FIELDS = {
    "run_id",
    "job_id",
    "status",
    "triggered_by",
    "started_at",
    "finished_at",
    "error_message",
    "created_at",
    "scheduled_for",
    "attempt",
    "worker_id",
    "heartbeat_at",
    "cancel_requested",
    "not_before",
    "start_delay_seconds",
    "duration_seconds",
}


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def new_job(api: Api, name: str = "nightly") -> str:
    response = api.post(JOBS, json=job_body(name))
    assert response.status_code == 201, response.text
    return str(response.json()["job_id"])


def trigger(api: Api, job_id: str) -> dict[str, Any]:
    response = api.post(f"{JOBS}/{job_id}/runs")
    assert response.status_code == 202, response.text
    run: dict[str, Any] = response.json()
    return run


# -- trigger ------------------------------------------------------------------------------------


def test_trigger_queues_a_manual_run(admin: Api) -> None:
    job_id = new_job(admin)
    before = datetime.now(UTC) - timedelta(seconds=1)
    run = trigger(admin, job_id)
    assert set(run) == RUN_FIELDS
    assert run["job_id"] == job_id
    assert run["status"] == "queued"
    assert run["triggered_by"] == "manual"
    assert run["attempt"] == 1
    assert run["cancel_requested"] is False
    for key in ("started_at", "finished_at", "error_message", "scheduled_for", "worker_id"):
        assert run[key] is None, key
    assert run["duration_seconds"] is None
    assert before <= parse_ts(run["created_at"]) <= datetime.now(UTC) + timedelta(seconds=1)


def test_paused_job_can_still_be_triggered(admin: Api) -> None:
    response = admin.post(JOBS, json=job_body(is_active=False))
    run = trigger(admin, response.json()["job_id"])
    assert run["status"] == "queued"


def test_trigger_for_unknown_job_is_not_found(admin: Api) -> None:
    response = admin.post(f"{JOBS}/{uuid.uuid4()}/runs")
    assert response.status_code == 404
    assert admin.get(RUNS).headers["x-total-count"] == "0"


def test_trigger_with_malformed_job_id_is_a_validation_error(admin: Api) -> None:
    response = admin.post(f"{JOBS}/nope/runs")
    assert response.status_code == 422
    assert response.json()["field"] == "job_id"


# -- list ---------------------------------------------------------------------------------------


@pytest.fixture
def two_jobs_with_runs(admin: Api) -> dict[str, Any]:
    """Job a: 3 runs (one cancelled); job b: 1 run."""
    a, b = new_job(admin, "a"), new_job(admin, "b")
    runs_a = [trigger(admin, a)["run_id"] for _ in range(3)]
    run_b = trigger(admin, b)["run_id"]
    assert admin.post(f"{RUNS}/{runs_a[0]}/cancel").status_code == 200
    return {"a": a, "b": b, "runs_a": runs_a, "run_b": run_b}


def test_list_all_runs_newest_first(admin: Api, two_jobs_with_runs: dict[str, Any]) -> None:
    response = admin.get(RUNS)
    assert response.status_code == 200
    assert response.headers["x-total-count"] == "4"
    runs = response.json()
    assert {r["run_id"] for r in runs} == {
        *two_jobs_with_runs["runs_a"],
        two_jobs_with_runs["run_b"],
    }
    created = [parse_ts(r["created_at"]) for r in runs]
    assert created == sorted(created, reverse=True)
    assert all(set(r) == RUN_FIELDS for r in runs)


def test_list_filters_by_status_and_job(admin: Api, two_jobs_with_runs: dict[str, Any]) -> None:
    data = two_jobs_with_runs
    cancelled = admin.get(f"{RUNS}?status=cancelled")
    assert [r["run_id"] for r in cancelled.json()] == [data["runs_a"][0]]
    assert cancelled.headers["x-total-count"] == "1"

    queued_a = admin.get(f"{RUNS}?status=queued&job_id={data['a']}")
    assert {r["run_id"] for r in queued_a.json()} == set(data["runs_a"][1:])
    assert queued_a.headers["x-total-count"] == "2"

    of_b = admin.get(f"{RUNS}?job_id={data['b']}")
    assert [r["run_id"] for r in of_b.json()] == [data["run_b"]]

    running = admin.get(f"{RUNS}?status=running")
    assert running.json() == []
    assert running.headers["x-total-count"] == "0"


def test_list_pages_with_total(admin: Api, two_jobs_with_runs: dict[str, Any]) -> None:
    everything = [r["run_id"] for r in admin.get(RUNS).json()]
    page = admin.get(f"{RUNS}?limit=2&offset=1")
    assert [r["run_id"] for r in page.json()] == everything[1:3]
    assert page.headers["x-total-count"] == "4"


def test_list_runs_of_one_job(admin: Api, two_jobs_with_runs: dict[str, Any]) -> None:
    data = two_jobs_with_runs
    response = admin.get(f"{JOBS}/{data['a']}/runs")
    assert response.status_code == 200
    assert {r["run_id"] for r in response.json()} == set(data["runs_a"])
    assert response.headers["x-total-count"] == "3"
    queued = admin.get(f"{JOBS}/{data['a']}/runs?status=queued&limit=1")
    assert len(queued.json()) == 1
    assert queued.headers["x-total-count"] == "2"


def test_list_runs_of_a_job_without_runs_is_empty(admin: Api) -> None:
    response = admin.get(f"{JOBS}/{new_job(admin)}/runs")
    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["x-total-count"] == "0"


def test_list_runs_of_an_unknown_job_is_not_found(admin: Api) -> None:
    assert admin.get(f"{JOBS}/{uuid.uuid4()}/runs").status_code == 404


def test_list_refuses_bad_query(admin: Api, subtests: pytest.Subtests) -> None:
    job_id = new_job(admin)
    cases = [
        (f"{RUNS}?status=bogus", "status"),
        (f"{RUNS}?status=QUEUED", "status"),
        (f"{RUNS}?limit=0", "limit"),
        (f"{RUNS}?limit=1001", "limit"),
        (f"{RUNS}?offset=-1", "offset"),
        (f"{RUNS}?job_id=not-a-uuid", "job_id"),
        (f"{JOBS}/{job_id}/runs?status=bogus", "status"),
        (f"{JOBS}/{job_id}/runs?limit=0", "limit"),
        (f"{JOBS}/{job_id}/runs?offset=-1", "offset"),
    ]
    for url, field in cases:
        with subtests.test(url=url):
            response = admin.get(url)
            assert response.status_code == 422
            assert response.json()["field"] == field
    assert admin.get(f"{RUNS}?limit=1000").status_code == 200


# -- detail, cancel, logs -----------------------------------------------------------------------


def test_run_detail_has_task_runs(admin: Api) -> None:
    run = trigger(admin, new_job(admin))
    response = admin.get(f"{RUNS}/{run['run_id']}")
    assert response.status_code == 200
    detail = response.json()
    assert detail["task_runs"] == []
    assert {k: detail[k] for k in run} == run
    assert set(detail) >= RUN_FIELDS | {"task_runs"}


def test_unknown_run_is_not_found(admin: Api, subtests: pytest.Subtests) -> None:
    missing = uuid.uuid4()
    for method, url in [
        ("GET", f"{RUNS}/{missing}"),
        ("POST", f"{RUNS}/{missing}/cancel"),
        ("GET", f"{RUNS}/{missing}/logs"),
    ]:
        with subtests.test(method=method, url=url):
            response = admin.client.request(method, url, headers=admin.headers)
            assert response.status_code == 404
            assert str(missing) in response.json()["detail"]


def test_malformed_run_id_is_a_validation_error(admin: Api) -> None:
    for url in (f"{RUNS}/xyz", f"{RUNS}/xyz/cancel", f"{RUNS}/xyz/logs"):
        method = "POST" if url.endswith("cancel") else "GET"
        response = admin.client.request(method, url, headers=admin.headers)
        assert response.status_code == 422, url
        assert response.json()["field"] == "run_id"


def test_cancel_a_queued_run(admin: Api) -> None:
    run = trigger(admin, new_job(admin))
    response = admin.post(f"{RUNS}/{run['run_id']}/cancel")
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["finished_at"] is not None
    assert parse_ts(cancelled["finished_at"]) >= parse_ts(run["created_at"])
    assert cancelled["cancel_requested"] is True
    assert cancelled["started_at"] is None
    assert admin.get(f"{RUNS}/{run['run_id']}").json()["status"] == "cancelled"


def test_cancel_twice_conflicts(admin: Api) -> None:
    run = trigger(admin, new_job(admin))
    first = admin.post(f"{RUNS}/{run['run_id']}/cancel")
    assert first.status_code == 200
    second = admin.post(f"{RUNS}/{run['run_id']}/cancel")
    assert second.status_code == 409
    assert "cancelled" in second.json()["detail"]
    assert admin.get(f"{RUNS}/{run['run_id']}").json()["finished_at"] == first.json()["finished_at"]


def test_logs_of_a_fresh_run_are_empty(admin: Api) -> None:
    run = trigger(admin, new_job(admin))
    response = admin.get(f"{RUNS}/{run['run_id']}/logs")
    assert response.status_code == 200
    assert response.json() == []
    assert admin.get(f"{RUNS}/{run['run_id']}/logs?after_id=5&limit=1").json() == []
    for query, field in [("after_id=-1", "after_id"), ("limit=0", "limit")]:
        bad = admin.get(f"{RUNS}/{run['run_id']}/logs?{query}")
        assert bad.status_code == 422, query
        assert bad.json()["field"] == field


def test_runs_are_visible_to_non_admins(admin: Api, user: Api) -> None:
    run = trigger(admin, new_job(admin))
    assert user.get(f"{RUNS}/{run['run_id']}").status_code == 200
    assert user.post(f"{RUNS}/{run['run_id']}/cancel").status_code == 200
