"""Tasks of one job: CRUD under /api/v1/jobs/{job_id}/tasks, ordering and validation."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

import pytest

from tests.integration.conftest import Api, job_body

JOBS = "/api/v1/jobs"
TASK_FIELDS = {
    "task_id",
    "job_id",
    "task_order",
    "extractor_config",
    "loader_config",
    "created_at",
    "updated_at",
}


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def task_body(order: int, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task_order": order,
        "extractor_config": {"type": "generate", "rows": 10 * order, "seed": order},
        "loader_config": {"type": "null"},
    }
    body.update(overrides)
    return body


def new_job(api: Api, name: str = "nightly", tasks: int = 0) -> str:
    body = job_body(name, tasks=[task_body(i) for i in range(1, tasks + 1)])
    response = api.post(JOBS, json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["job_id"])


def tasks_url(job_id: str, task_id: str | None = None) -> str:
    url = f"{JOBS}/{job_id}/tasks"
    return url if task_id is None else f"{url}/{task_id}"


# -- create and read ----------------------------------------------------------------------------


def test_create_task(admin: Api) -> None:
    job_id = new_job(admin)
    extractor = {"type": "generate", "rows": 5, "seed": 7, "batch_size": 2, "sleep_seconds": 0.5}
    body = task_body(1, extractor_config=extractor)
    response = admin.post(tasks_url(job_id), json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == TASK_FIELDS
    assert created["job_id"] == job_id
    assert {k: created[k] for k in body} == body
    assert admin.get(tasks_url(job_id, created["task_id"])).json() == created


def test_list_tasks_in_order(admin: Api) -> None:
    job_id = new_job(admin)
    assert admin.get(tasks_url(job_id)).json() == []
    for order in (20, 5, 10):
        assert admin.post(tasks_url(job_id), json=task_body(order)).status_code == 201
    response = admin.get(tasks_url(job_id))
    assert response.status_code == 200
    assert [t["task_order"] for t in response.json()] == [5, 10, 20]
    detail = admin.get(f"{JOBS}/{job_id}").json()
    assert detail["tasks"] == response.json()


def test_tasks_of_an_unknown_job_are_not_found(admin: Api) -> None:
    missing = str(uuid.uuid4())
    assert admin.get(tasks_url(missing)).status_code == 404
    assert admin.post(tasks_url(missing), json=task_body(1)).status_code == 404
    assert admin.get(tasks_url(missing, str(uuid.uuid4()))).status_code == 404


def test_unknown_task_is_not_found(admin: Api) -> None:
    job_id = new_job(admin, tasks=1)
    missing = str(uuid.uuid4())
    assert admin.get(tasks_url(job_id, missing)).status_code == 404
    assert admin.patch(tasks_url(job_id, missing), json={"task_order": 9}).status_code == 404
    assert admin.delete(tasks_url(job_id, missing)).status_code == 404
    malformed = admin.get(tasks_url(job_id, "not-a-uuid"))
    assert malformed.status_code == 422
    assert malformed.json()["field"] == "task_id"


def test_tasks_of_another_job_are_not_found(admin: Api) -> None:
    owner = new_job(admin, "owner", tasks=1)
    other = new_job(admin, "other")
    task_id = admin.get(tasks_url(owner)).json()[0]["task_id"]
    assert admin.get(tasks_url(other, task_id)).status_code == 404
    assert admin.patch(tasks_url(other, task_id), json={"task_order": 7}).status_code == 404
    assert admin.delete(tasks_url(other, task_id)).status_code == 404
    # Untouched under its own job.
    assert admin.get(tasks_url(owner, task_id)).json()["task_order"] == 1


# -- task_order ---------------------------------------------------------------------------------


def test_duplicate_task_order_on_create_conflicts(admin: Api) -> None:
    job_id = new_job(admin, tasks=1)
    response = admin.post(tasks_url(job_id), json=task_body(1))
    assert response.status_code == 409
    assert response.json()["field"] == "task_order"
    assert len(admin.get(tasks_url(job_id)).json()) == 1


def test_same_task_order_in_different_jobs_is_fine(admin: Api) -> None:
    new_job(admin, "a", tasks=1)
    other = new_job(admin, "b")
    assert admin.post(tasks_url(other), json=task_body(1)).status_code == 201


def test_duplicate_task_order_on_patch_conflicts(admin: Api) -> None:
    job_id = new_job(admin, tasks=2)
    first, second = admin.get(tasks_url(job_id)).json()
    response = admin.patch(tasks_url(job_id, second["task_id"]), json={"task_order": 1})
    assert response.status_code == 409
    assert response.json()["field"] == "task_order"
    assert admin.get(tasks_url(job_id, second["task_id"])).json() == second
    # Keeping its own order is not a clash.
    same = admin.patch(tasks_url(job_id, first["task_id"]), json={"task_order": 1})
    assert same.status_code == 200


def test_task_order_bounds(admin: Api, subtests: pytest.Subtests) -> None:
    job_id = new_job(admin)
    for order in (0, -1, 10_001, "first", None):
        with subtests.test(task_order=order):
            response = admin.post(tasks_url(job_id), json=task_body(1, task_order=order))
            assert response.status_code == 422
            assert response.json()["field"] == "task_order"
    for order in (1, 10_000):
        assert admin.post(tasks_url(job_id), json=task_body(order)).status_code == 201


# -- plugin configs -----------------------------------------------------------------------------

BAD_CONFIGS: list[Any] = [{}, {"table": "t"}, {"type": ""}, {"type": "  "}, {"type": 3}, "csv", []]


def test_config_without_type_is_refused(admin: Api, subtests: pytest.Subtests) -> None:
    job_id = new_job(admin)
    for field in ("extractor_config", "loader_config"):
        for config in BAD_CONFIGS:
            with subtests.test(field=field, config=config):
                response = admin.post(tasks_url(job_id), json=task_body(1, **{field: config}))
                assert response.status_code == 422, response.text
                assert response.json()["field"] == field
                if isinstance(config, dict):
                    assert '"type"' in response.json()["detail"]
    assert admin.get(tasks_url(job_id)).json() == []


def test_nested_task_errors_name_the_path(admin: Api, subtests: pytest.Subtests) -> None:
    good = task_body(1)
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([{**good, "loader_config": {"table": "t"}}], "tasks[0].loader_config"),
        ([good, {**task_body(2), "extractor_config": {}}], "tasks[1].extractor_config"),
        ([{**good, "task_order": 0}], "tasks[0].task_order"),
        ([{"task_order": 1, "extractor_config": {"type": "csv"}}], "tasks[0].loader_config"),
    ]
    for tasks, field in cases:
        with subtests.test(field=field):
            response = admin.post(JOBS, json=job_body(tasks=tasks))
            assert response.status_code == 422, response.text
            assert response.json()["field"] == field
            assert response.json()["detail"].startswith(f"{field}: ")
    assert admin.get(JOBS).json() == []


def test_configs_are_checked_against_the_plugins(admin: Api, subtests: pytest.Subtests) -> None:
    job_id = new_job(admin, tasks=1)
    task_id = admin.get(tasks_url(job_id)).json()[0]["task_id"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"extractor_config": {"type": "no-such-plugin"}}, "extractor_config.type"),
        ({"loader_config": {"type": "no-such-plugin"}}, "loader_config.type"),
        ({"loader_config": {"type": "generate", "rows": 1}}, "loader_config.type"),
        ({"extractor_config": {"type": "generate"}}, "extractor_config.rows"),
        ({"extractor_config": {"type": "generate", "rows": -1}}, "extractor_config.rows"),
        (
            {"extractor_config": {"type": "generate", "rows": 1, "colour": "red"}},
            "extractor_config.colour",
        ),
        ({"loader_config": {"type": "null", "table": "t"}}, "loader_config.table"),
    ]
    for changes, field in cases:
        with subtests.test(field=field, changes=changes):
            created = admin.post(tasks_url(job_id), json=task_body(2, **changes))
            assert created.status_code == 422, created.text
            assert created.json()["field"] == field
            patched = admin.patch(tasks_url(job_id, task_id), json=changes)
            assert patched.status_code == 422, patched.text
            assert patched.json()["field"] == field
            nested = admin.post(JOBS, json=job_body("other", tasks=[task_body(1, **changes)]))
            assert nested.status_code == 422, nested.text
            assert nested.json()["field"] == f"tasks[0].{field}"
    assert len(admin.get(tasks_url(job_id)).json()) == 1
    assert admin.get(JOBS).headers["x-total-count"] == "1"


def test_plugin_errors_have_the_same_shape_as_other_validation_errors(admin: Api) -> None:
    job_id = new_job(admin)
    schema_error = admin.post(tasks_url(job_id), json=task_body(1, task_order=0)).json()
    plugin_error = admin.post(
        tasks_url(job_id),
        json=task_body(1, extractor_config={"type": "generate", "rows": -1}),
    ).json()
    for body in (schema_error, plugin_error):
        assert body["detail"] == f"{body['field']}: {body['errors'][0]['message']}"


def test_unknown_task_field_is_refused(admin: Api) -> None:
    job_id = new_job(admin)
    response = admin.post(tasks_url(job_id), json={**task_body(1), "name": "x"})
    assert response.status_code == 422
    assert response.json()["field"] == "name"


# -- update and delete --------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(admin: Api) -> None:
    job_id = new_job(admin, tasks=1)
    before = admin.get(tasks_url(job_id)).json()[0]
    time.sleep(0.01)
    config = {"type": "generate", "rows": 99, "seed": 3}
    response = admin.patch(tasks_url(job_id, before["task_id"]), json={"extractor_config": config})
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["extractor_config"] == config
    assert after["loader_config"] == before["loader_config"]
    assert after["task_order"] == before["task_order"]
    assert after["created_at"] == before["created_at"]
    assert parse_ts(after["updated_at"]) > parse_ts(before["updated_at"])
    assert admin.get(tasks_url(job_id, before["task_id"])).json() == after


def test_patch_reorders_tasks(admin: Api) -> None:
    job_id = new_job(admin, tasks=2)
    first, second = admin.get(tasks_url(job_id)).json()
    assert admin.patch(tasks_url(job_id, first["task_id"]), json={"task_order": 3}).is_success
    orders = [(t["task_id"], t["task_order"]) for t in admin.get(tasks_url(job_id)).json()]
    assert orders == [(second["task_id"], 2), (first["task_id"], 3)]


def test_empty_patch_changes_nothing(admin: Api) -> None:
    job_id = new_job(admin, tasks=1)
    before = admin.get(tasks_url(job_id)).json()[0]
    response = admin.patch(tasks_url(job_id, before["task_id"]), json={})
    assert response.status_code == 200
    assert response.json() == before


def test_patch_refuses_null_and_bad_values(admin: Api, subtests: pytest.Subtests) -> None:
    job_id = new_job(admin, tasks=1)
    before = admin.get(tasks_url(job_id)).json()[0]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"task_order": None}, "task_order"),
        ({"extractor_config": None}, "extractor_config"),
        ({"loader_config": None}, "loader_config"),
        ({"task_order": 0}, "task_order"),
        ({"loader_config": {"table": "t"}}, "loader_config"),
        ({"job_id": str(uuid.uuid4())}, "job_id"),
    ]
    for changes, field in cases:
        with subtests.test(field=field, changes=changes):
            response = admin.patch(tasks_url(job_id, before["task_id"]), json=changes)
            assert response.status_code == 422, response.text
            assert response.json()["field"] == field
    assert admin.get(tasks_url(job_id, before["task_id"])).json() == before


def test_delete_task(admin: Api) -> None:
    job_id = new_job(admin, tasks=2)
    first, second = admin.get(tasks_url(job_id)).json()
    response = admin.delete(tasks_url(job_id, first["task_id"]))
    assert response.status_code == 204
    assert response.content == b""
    assert admin.get(tasks_url(job_id, first["task_id"])).status_code == 404
    assert admin.get(tasks_url(job_id)).json() == [second]
    assert admin.delete(tasks_url(job_id, first["task_id"])).status_code == 404
    # The freed order can be taken again.
    assert admin.post(tasks_url(job_id), json=task_body(1)).status_code == 201
