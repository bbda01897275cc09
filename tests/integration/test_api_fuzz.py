"""Schemathesis fuzzing of every documented operation, on both backends, as an admin.

Each operation gets a bounded, derandomized batch of generated requests: valid ones (positive
mode) and ones that break the documented schema (negative mode). Every answer must be a
documented status with its documented content type and body schema, and never a 5xx.

Requests go through the test client that owns the app's lifespan rather than through
schemathesis' own ASGI transport: that transport runs the app on an event loop of its own,
where the database pool opened by our lifespan does not live.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from orcrustator.api.app import create_app
from tests.integration.conftest import USER_PASSWORD, Api, create_user, job_body, make_settings

# Small enough that both backends together stay within about a minute on a shared CI machine;
# ORC_FUZZ_EXAMPLES raises it for a deeper local run.
EXAMPLES = int(os.environ.get("ORC_FUZZ_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BASE_URL = "http://testserver"


def _operations() -> list[tuple[str, str]]:
    # The document does not depend on the database, so collection needs none.
    spec = create_app(make_settings("sqlite://")).openapi()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


@dataclass
class Known:
    """Ids of rows that exist, so generated requests reach more than the 404 branch."""

    ids: dict[str, str]


@pytest.fixture
def known(admin: Api) -> Known:
    job = admin.post("/api/v1/jobs", json=job_body("fuzz-seed"))
    assert job.status_code == 201, job.text
    run = admin.post(f"/api/v1/jobs/{job.json()['job_id']}/runs")
    assert run.status_code == 202, run.text
    create_user(admin.client, "fuzz-user", USER_PASSWORD, is_admin=False)
    users = admin.get("/api/v1/users").json()
    return Known(
        {
            "job_id": job.json()["job_id"],
            "task_id": job.json()["tasks"][0]["task_id"],
            "run_id": run.json()["run_id"],
            "user_id": next(u["user_id"] for u in users if u["username"] == "fuzz-user"),
        }
    )


def _send(client: TestClient, case: schemathesis.Case, headers: dict[str, str]) -> Any:
    # `requests` builds the exact bytes schemathesis meant (form, JSON or raw); the test client
    # only carries them into the app.
    kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
    prepared = requests.Request(
        method=kwargs["method"],
        url=kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        cookies=kwargs.get("cookies"),
        data=kwargs.get("data"),
        json=kwargs.get("json"),
        files=kwargs.get("files"),
    ).prepare()
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    return client.request(
        prepared.method or "GET",
        prepared.url or BASE_URL,
        content=body,
        headers=dict(prepared.headers),
    )


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda v: str(v))
def test_fuzz_operation(admin: Api, known: Known, method: str, path: str) -> None:
    client = admin.client
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    operation = schema[path][method]
    params = set(re.findall(r"\{(\w+)\}", path))
    failures: list[str] = []
    sent = 0

    cases = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE).map(lambda c: (c, True)),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE).map(lambda c: (c, False)),
    )

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(drawn=cases, reuse=st.booleans())
    def run(drawn: tuple[schemathesis.Case, bool], reuse: bool) -> None:
        case, positive = drawn
        if positive and reuse and params:
            for name in params & set(known.ids):
                case.path_parameters = {**(case.path_parameters or {}), name: known.ids[name]}
        nonlocal sent
        sent += 1
        response = _send(client, case, admin.headers)
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as exc:  # collected, so one run reports every distinct failure
            failures.append(str(exc))

    run()
    print(f"fuzzed {method} {path}: {sent} requests")  # figures for `pytest -s`
    assert not failures, f"{len(failures)} failing cases for {method} {path}:\n" + "\n".join(
        dict.fromkeys(failures)
    )


def test_fuzz_covers_every_operation() -> None:
    # A document that lost its paths would make the fuzzer pass by testing nothing.
    operations = _operations()
    assert len(operations) >= 24
    assert ("POST", "/api/v1/jobs") in operations
