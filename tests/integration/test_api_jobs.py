"""Jobs: create (with tasks), validate schedules and zones, list, read, change, delete."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.conftest import Api, job_body

JOBS = "/api/v1/jobs"

SEED_COLUMNS = {
    "job_id",
    "job_name",
    "description",
    "schedule",
    "is_active",
    "created_at",
    "updated_at",
}
ADDED_COLUMNS = {
    "timezone",
    "max_retries",
    "retry_delay_seconds",
    "timeout_seconds",
    "max_active_runs",
    "catchup",
}


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def create_job(api: Api, name: str = "nightly", **overrides: Any) -> dict[str, Any]:
    response = api.post(JOBS, json=job_body(name, **overrides))
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job


def task(order: int, seed: int = 0) -> dict[str, Any]:
    return {
        "task_order": order,
        "extractor_config": {"type": "generate", "rows": order, "seed": seed},
        "loader_config": {"type": "null"},
    }


# -- create -------------------------------------------------------------------------------------


def test_create_echoes_every_column(admin: Api) -> None:
    body = {
        "job_name": "full",
        "description": "every option set",
        "schedule": "15 3 * * 1-5",
        "is_active": True,
        "timezone": "Europe/Berlin",
        "max_retries": 3,
        "retry_delay_seconds": 30,
        "timeout_seconds": 600,
        "max_active_runs": 2,
        "catchup": True,
    }
    response = admin.post(JOBS, json=body)
    assert response.status_code == 201, response.text
    job = response.json()
    assert set(job) == SEED_COLUMNS | ADDED_COLUMNS | {"next_run_at", "tasks"}
    for key, value in body.items():
        assert job[key] == value, key
    assert job["tasks"] == []
    uuid.UUID(job["job_id"])
    assert job["created_at"] == job["updated_at"]
    assert parse_ts(job["next_run_at"]) > datetime.now(UTC)
    assert admin.get(f"{JOBS}/{job['job_id']}").json() == job


def test_create_fills_defaults(admin: Api) -> None:
    job = admin.post(JOBS, json={"job_name": "minimal", "schedule": "@daily"}).json()
    assert job["description"] is None
    assert job["is_active"] is True
    assert job["timezone"] == "UTC"
    assert (job["max_retries"], job["retry_delay_seconds"]) == (0, 60)
    assert (job["timeout_seconds"], job["max_active_runs"], job["catchup"]) == (None, 1, False)
    assert job["tasks"] == []


def test_create_with_tasks_orders_them(admin: Api) -> None:
    job = create_job(admin, tasks=[task(3, seed=30), task(1, seed=10), task(2, seed=20)])
    assert [t["task_order"] for t in job["tasks"]] == [1, 2, 3]
    assert [t["extractor_config"]["seed"] for t in job["tasks"]] == [10, 20, 30]
    assert job["tasks"][0]["loader_config"] == {"type": "null"}
    assert all(t["job_id"] == job["job_id"] for t in job["tasks"])
    fetched = admin.get(f"{JOBS}/{job['job_id']}").json()
    assert [t["task_id"] for t in fetched["tasks"]] == [t["task_id"] for t in job["tasks"]]


def test_create_with_duplicate_task_orders_creates_nothing(admin: Api) -> None:
    response = admin.post(JOBS, json=job_body(tasks=[task(1), task(1)]))
    assert response.status_code == 409
    assert response.json()["field"] == "task_order"
    listing = admin.get(JOBS)
    assert listing.json() == []
    assert listing.headers["x-total-count"] == "0"


def test_duplicate_job_name_conflicts(admin: Api) -> None:
    create_job(admin, "nightly")
    response = admin.post(JOBS, json=job_body("nightly"))
    assert response.status_code == 409
    assert response.json()["field"] == "job_name"
    assert "nightly" in response.json()["detail"]


BAD_CREATE_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"job_name": "x", "schedule": "@daily", "owner": "me"}, "owner"),
    (
        {"job_name": "x", "schedule": "@daily", "tasks": [{**task(1), "retries": 1}]},
        "tasks[0].retries",
    ),
    ({"schedule": "@daily"}, "job_name"),
    ({"job_name": "x"}, "schedule"),
    ({"job_name": "", "schedule": "@daily"}, "job_name"),
    ({"job_name": "x" * 256, "schedule": "@daily"}, "job_name"),
    ({"job_name": "x", "schedule": "@daily", "max_retries": -1}, "max_retries"),
    ({"job_name": "x", "schedule": "@daily", "max_active_runs": 0}, "max_active_runs"),
    ({"job_name": "x", "schedule": "@daily", "timeout_seconds": 0}, "timeout_seconds"),
    ({"job_name": "x", "schedule": "@daily", "is_active": "maybe"}, "is_active"),
    ({"job_name": "x", "schedule": "@daily", "tasks": {"task_order": 1}}, "tasks"),
]


def test_create_refuses_bad_fields(admin: Api, subtests: pytest.Subtests) -> None:
    for body, field in BAD_CREATE_BODIES:
        with subtests.test(field=field):
            response = admin.post(JOBS, json=body)
            assert response.status_code == 422, response.text
            assert response.json()["field"] == field
            assert response.json()["detail"].startswith(f"{field}: ")
    assert admin.get(JOBS).headers["x-total-count"] == "0"


# -- schedules and time zones -------------------------------------------------------------------


VALID_SCHEDULES: list[tuple[str, dict[str, int]]] = [
    ("30 2 * * *", {"hour": 2, "minute": 30, "second": 0}),
    ("0 12 * * mon-fri", {"hour": 12, "minute": 0}),
    ("*/15 * * * *", {"second": 0}),
    ("0 0 1 1 *", {"month": 1, "day": 1, "hour": 0}),
    ("0,30 8-18/2 * jan-dec 1-5", {"second": 0}),
    ("@hourly", {"minute": 0, "second": 0}),
    ("@daily", {"hour": 0, "minute": 0, "second": 0}),
    ("@weekly", {"hour": 0, "minute": 0, "weekday": 6}),
    ("@monthly", {"day": 1, "hour": 0, "minute": 0}),
    ("@yearly", {"month": 1, "day": 1, "hour": 0, "minute": 0}),
]


def test_valid_schedules_give_a_next_run(admin: Api, subtests: pytest.Subtests) -> None:
    for i, (schedule, expected) in enumerate(VALID_SCHEDULES):
        with subtests.test(schedule=schedule):
            job = create_job(admin, f"job-{i}", schedule=schedule)
            assert job["schedule"] == schedule
            moment = parse_ts(job["next_run_at"])
            assert moment > datetime.now(UTC)
            actual = {
                k: moment.weekday() if k == "weekday" else getattr(moment, k) for k in expected
            }
            assert actual == expected


def test_six_field_schedule_has_seconds_first(admin: Api) -> None:
    before = datetime.now(UTC)
    job = create_job(admin, schedule="*/5 * * * * *")
    moment = parse_ts(job["next_run_at"])
    assert moment.second % 5 == 0
    assert before < moment <= before + timedelta(seconds=6)


BAD_SCHEDULES: list[tuple[str, str]] = [
    ("* * * *", "expected 5 fields"),
    ("* * * * * * *", "got 7"),
    ("60 * * * *", "out of range"),
    ("* 24 * * *", "hour value 24 is out of range"),
    ("*/0 * * * *", "step must be a positive integer"),
    ("5-1 * * * *", "reversed"),
    ("* * * foo *", "month"),
    ("* * 31 2 *", "never fires"),
    ("@fortnightly", "unknown macro"),
    ("every day", "expected 5 fields"),
    ("", "at least 1 character"),
]


def test_bad_schedules_are_refused(admin: Api, subtests: pytest.Subtests) -> None:
    for schedule, problem in BAD_SCHEDULES:
        with subtests.test(schedule=schedule):
            response = admin.post(JOBS, json=job_body(schedule=schedule))
            assert response.status_code == 422, response.text
            body = response.json()
            assert body["field"] == "schedule"
            assert problem in body["detail"]
            assert body["errors"][0]["field"] == "schedule"


def test_unknown_timezone_is_refused(admin: Api, subtests: pytest.Subtests) -> None:
    for zone in ["Mars/Olympus_Mons", "localtime", "../etc/passwd", "America", "utc+2"]:
        with subtests.test(zone=zone):
            response = admin.post(JOBS, json=job_body(timezone=zone))
            assert response.status_code == 422
            assert response.json()["field"] == "timezone"
            assert "unknown timezone" in response.json()["detail"]


def test_timezone_moves_next_run(admin: Api) -> None:
    utc = create_job(admin, "utc", schedule="0 9 * * *", timezone="UTC")
    ny = create_job(admin, "ny", schedule="0 9 * * *", timezone="America/New_York")
    assert utc["next_run_at"].endswith("T09:00:00Z")
    ny_moment = parse_ts(ny["next_run_at"])
    assert (ny_moment.hour, ny_moment.minute) in {(13, 0), (14, 0)}  # EDT or EST
    assert ny_moment > datetime.now(UTC)


def test_paused_job_has_no_next_run(admin: Api) -> None:
    job = create_job(admin, is_active=False)
    assert job["is_active"] is False
    assert job["next_run_at"] is None
    listed = admin.get(JOBS).json()
    assert listed[0]["next_run_at"] is None


# -- list ---------------------------------------------------------------------------------------


def test_list_pages_by_name_with_total(admin: Api) -> None:
    for name in ["e", "b", "d", "a", "c"]:
        create_job(admin, f"job-{name}")
    response = admin.get(f"{JOBS}?limit=2&offset=1")
    assert response.status_code == 200
    assert [j["job_name"] for j in response.json()] == ["job-b", "job-c"]
    assert response.headers["x-total-count"] == "5"
    tail = admin.get(f"{JOBS}?limit=2&offset=4")
    assert [j["job_name"] for j in tail.json()] == ["job-e"]
    past = admin.get(f"{JOBS}?offset=5")
    assert past.json() == []
    assert past.headers["x-total-count"] == "5"


def test_list_items_have_next_run_but_no_tasks(admin: Api) -> None:
    create_job(admin)
    item = admin.get(JOBS).json()[0]
    assert set(item) == SEED_COLUMNS | ADDED_COLUMNS | {"next_run_at"}
    assert item["next_run_at"] is not None


def test_list_filters_on_is_active(admin: Api) -> None:
    create_job(admin, "on-1")
    create_job(admin, "on-2")
    create_job(admin, "off-1", is_active=False)
    active = admin.get(f"{JOBS}?is_active=true")
    paused = admin.get(f"{JOBS}?is_active=false")
    assert [j["job_name"] for j in active.json()] == ["on-1", "on-2"]
    assert active.headers["x-total-count"] == "2"
    assert [j["job_name"] for j in paused.json()] == ["off-1"]
    assert paused.headers["x-total-count"] == "1"
    assert admin.get(JOBS).headers["x-total-count"] == "3"


def test_list_refuses_bad_query(admin: Api, subtests: pytest.Subtests) -> None:
    cases = [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("is_active=perhaps", "is_active"),
    ]
    for query, field in cases:
        with subtests.test(query=query):
            response = admin.get(f"{JOBS}?{query}")
            assert response.status_code == 422
            assert response.json()["field"] == field
    for limit in (1, 1000):
        assert admin.get(f"{JOBS}?limit={limit}").status_code == 200


# -- read ---------------------------------------------------------------------------------------


def test_get_unknown_job_is_not_found(admin: Api) -> None:
    missing = uuid.uuid4()
    response = admin.get(f"{JOBS}/{missing}")
    assert response.status_code == 404
    assert str(missing) in response.json()["detail"]


def test_malformed_job_id_is_a_validation_error(admin: Api, subtests: pytest.Subtests) -> None:
    for bad_id in ["not-a-uuid", "12345", "0" * 33]:
        for method in ("GET", "PATCH", "DELETE"):
            with subtests.test(method=method, bad_id=bad_id):
                response = admin.client.request(
                    method,
                    f"{JOBS}/{bad_id}",
                    headers=admin.headers,
                    json={} if method == "PATCH" else None,
                )
                assert response.status_code == 422, response.text
                assert response.json()["field"] == "job_id"


# -- update -------------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(admin: Api) -> None:
    job = create_job(admin, description="before", max_retries=2)
    time.sleep(0.01)
    response = admin.patch(f"{JOBS}/{job['job_id']}", json={"description": "after"})
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["description"] == "after"
    unchanged = {k: v for k, v in job.items() if k not in {"description", "updated_at"}}
    assert {k: patched[k] for k in unchanged} == unchanged
    assert parse_ts(patched["updated_at"]) > parse_ts(job["updated_at"])
    assert patched["created_at"] == job["created_at"]
    assert admin.get(f"{JOBS}/{job['job_id']}").json() == patched


def test_patch_several_fields(admin: Api) -> None:
    job = create_job(admin)
    changes = {
        "job_name": "renamed",
        "schedule": "*/10 * * * *",
        "max_retries": 5,
        "retry_delay_seconds": 5,
        "timeout_seconds": 120,
        "max_active_runs": 3,
        "catchup": True,
    }
    patched = admin.patch(f"{JOBS}/{job['job_id']}", json=changes).json()
    assert {k: patched[k] for k in changes} == changes
    assert parse_ts(patched["next_run_at"]).minute % 10 == 0


def test_patch_timezone_moves_next_run(admin: Api) -> None:
    job = create_job(admin, schedule="0 9 * * *")
    assert job["next_run_at"].endswith("T09:00:00Z")
    patched = admin.patch(f"{JOBS}/{job['job_id']}", json={"timezone": "Asia/Tokyo"}).json()
    assert patched["timezone"] == "Asia/Tokyo"
    assert patched["next_run_at"].endswith("T00:00:00Z")  # 09:00 JST


def test_patch_pause_and_resume(admin: Api) -> None:
    job = create_job(admin)
    paused = admin.patch(f"{JOBS}/{job['job_id']}", json={"is_active": False}).json()
    assert paused["next_run_at"] is None
    resumed = admin.patch(f"{JOBS}/{job['job_id']}", json={"is_active": True}).json()
    assert resumed["next_run_at"] is not None


def test_empty_patch_changes_nothing(admin: Api) -> None:
    job = create_job(admin)
    response = admin.patch(f"{JOBS}/{job['job_id']}", json={})
    assert response.status_code == 200
    assert response.json() == job


NOT_NULL_FIELDS = [
    "job_name",
    "schedule",
    "is_active",
    "timezone",
    "max_retries",
    "retry_delay_seconds",
    "max_active_runs",
    "catchup",
]


def test_patch_null_for_not_null_column_is_refused(admin: Api, subtests: pytest.Subtests) -> None:
    job = create_job(admin)
    for field in NOT_NULL_FIELDS:
        with subtests.test(field=field):
            response = admin.patch(f"{JOBS}/{job['job_id']}", json={field: None})
            assert response.status_code == 422
            assert response.json()["field"] == field
            assert "null" in response.json()["detail"]
    assert admin.get(f"{JOBS}/{job['job_id']}").json() == job


def test_patch_null_clears_nullable_columns(admin: Api) -> None:
    job = create_job(admin, description="text", timeout_seconds=60)
    response = admin.patch(
        f"{JOBS}/{job['job_id']}", json={"description": None, "timeout_seconds": None}
    )
    assert response.status_code == 200
    assert response.json()["description"] is None
    assert response.json()["timeout_seconds"] is None


def test_patch_refuses_bad_fields(admin: Api, subtests: pytest.Subtests) -> None:
    job = create_job(admin)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"timezone": "Nowhere/Special"}, "timezone"),
        ({"job_name": ""}, "job_name"),
        ({"max_active_runs": 0}, "max_active_runs"),
        ({"tasks": []}, "tasks"),
        ({"job_id": str(uuid.uuid4())}, "job_id"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"next_run_at": None}, "next_run_at"),
    ]
    for changes, field in cases:
        with subtests.test(field=field):
            response = admin.patch(f"{JOBS}/{job['job_id']}", json=changes)
            assert response.status_code == 422, response.text
            assert response.json()["field"] == field
    assert admin.get(f"{JOBS}/{job['job_id']}").json() == job


def test_patch_to_a_taken_name_conflicts(admin: Api) -> None:
    create_job(admin, "first")
    second = create_job(admin, "second")
    response = admin.patch(f"{JOBS}/{second['job_id']}", json={"job_name": "first"})
    assert response.status_code == 409
    assert response.json()["field"] == "job_name"
    same = admin.patch(f"{JOBS}/{second['job_id']}", json={"job_name": "second"})
    assert same.status_code == 200


def test_patch_unknown_job_is_not_found(admin: Api) -> None:
    assert admin.patch(f"{JOBS}/{uuid.uuid4()}", json={"description": "x"}).status_code == 404
    assert admin.patch(f"{JOBS}/{uuid.uuid4()}", json={}).status_code == 404


# -- delete -------------------------------------------------------------------------------------


def test_delete_cascades_to_tasks_and_runs(admin: Api) -> None:
    job = create_job(admin, tasks=[task(1), task(2)])
    keep = create_job(admin, "keep")
    job_id = job["job_id"]
    run = admin.post(f"{JOBS}/{job_id}/runs").json()
    kept_run = admin.post(f"{JOBS}/{keep['job_id']}/runs").json()

    response = admin.delete(f"{JOBS}/{job_id}")
    assert response.status_code == 204
    assert response.content == b""

    assert admin.get(f"{JOBS}/{job_id}").status_code == 404
    assert admin.get(f"{JOBS}/{job_id}/tasks").status_code == 404
    assert admin.get(f"{JOBS}/{job_id}/tasks/{job['tasks'][0]['task_id']}").status_code == 404
    assert admin.get(f"/api/v1/runs/{run['run_id']}").status_code == 404
    assert [r["run_id"] for r in admin.get("/api/v1/runs").json()] == [kept_run["run_id"]]
    assert [j["job_name"] for j in admin.get(JOBS).json()] == ["keep"]
    assert len(admin.get(f"{JOBS}/{keep['job_id']}").json()["tasks"]) == 1
    assert admin.delete(f"{JOBS}/{job_id}").status_code == 404


def test_non_admin_users_manage_jobs_too(user: Api) -> None:
    job = create_job(user)
    assert user.patch(f"{JOBS}/{job['job_id']}", json={"description": "mine"}).status_code == 200
    assert user.delete(f"{JOBS}/{job['job_id']}").status_code == 204
