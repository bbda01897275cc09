"""JsonBody: the same bytes and the same OpenAPI entry as a route that returns models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient
from pydantic import ValidationError

from orcrustator.api.json_response import JsonBody
from orcrustator.api.schemas.jobs import TaskPublic
from orcrustator.api.schemas.runs import RunPublic
from orcrustator.plugins.secrets import MASK

CREATED = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def run(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "run_id": uuid.uuid4(),
        "job_id": uuid.uuid4(),
        "status": "success",
        "triggered_by": "scheduled",
        "started_at": CREATED + timedelta(milliseconds=30),
        "finished_at": CREATED + timedelta(seconds=2),
        "error_message": None,
        "created_at": CREATED,
        "scheduled_for": CREATED,
        "attempt": 1,
        "worker_id": "w-1",
        "heartbeat_at": None,
        "cancel_requested": False,
        "not_before": None,
    }
    return record | changes


RECORDS = [run(), run(status="queued", started_at=None, finished_at=None, worker_id=None)]
RUNS = JsonBody(list[RunPublic])


def app() -> FastAPI:
    application = FastAPI()

    @application.get("/models", response_model=list[RunPublic])
    async def models() -> list[RunPublic]:
        return [RunPublic.model_validate(r) for r in RECORDS]

    @application.get("/once", response_model=list[RunPublic])
    async def once() -> Response:
        return RUNS.response(RECORDS, headers={"X-Total-Count": "2"})

    return application


def test_the_body_is_the_one_fastapi_renders_from_models() -> None:
    with TestClient(app()) as client:
        expected, got = client.get("/models"), client.get("/once")
    assert got.status_code == 200
    assert got.content == expected.content
    assert got.headers["content-type"] == expected.headers["content-type"]
    assert got.headers["x-total-count"] == "2"
    first = got.json()[0]
    assert first["created_at"] == "2026-11-28T12:00:00Z"
    assert first["duration_seconds"] == pytest.approx(1.97)  # computed fields are rendered


def test_the_openapi_entry_comes_from_the_decorator() -> None:
    paths = app().openapi()["paths"]

    def schema(path: str) -> dict[str, Any]:
        found: dict[str, Any] = paths[path]["get"]["responses"]["200"]["content"]
        found["application/json"]["schema"].pop("title")  # named after the route function
        return found

    once = schema("/once")
    assert once == schema("/models")
    assert once["application/json"]["schema"]["items"] == {"$ref": "#/components/schemas/RunPublic"}


def test_records_are_validated_with_the_models_validators() -> None:
    task = {
        "task_id": uuid.uuid4(),
        "job_id": uuid.uuid4(),
        "task_order": 1,
        "extractor_config": {"type": "http", "password": "hunter2"},
        "loader_config": {"type": "null"},
        "created_at": CREATED,
        "updated_at": CREATED,
    }
    body = JsonBody(TaskPublic).response(task, status_code=201)
    assert body.status_code == 201
    assert b"hunter2" not in body.body
    assert MASK.encode() in body.body
    with pytest.raises(ValidationError):
        RUNS.response([run(status="lost")])
