"""One JSON error shape everywhere, request ids, and the OpenAPI document."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient

from orcrustator.api.app import create_app
from tests.integration.conftest import (
    USER_PASSWORD,
    Api,
    create_user,
    job_body,
    make_settings,
)
from tests.integration.test_api_auth import api_routes

ERROR_KEYS = {"detail", "code", "field", "errors", "request_id"}


def assert_error_shape(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["code"] == code
    assert body["field"] is None or isinstance(body["field"], str)
    assert isinstance(body["errors"], list)
    for item in body["errors"]:
        assert set(item) == {"field", "message"}
        assert isinstance(item["message"], str)
    if body["field"] is not None:
        assert body["errors"][0]["field"] == body["field"]
    assert body["request_id"]
    assert response.headers["x-request-id"] == body["request_id"]


def test_every_error_status_has_the_same_shape(
    admin: Api, user: Api, subtests: pytest.Subtests
) -> None:
    client = admin.client
    assert admin.post("/api/v1/jobs", json=job_body("taken")).status_code == 201
    cases: list[tuple[str, Callable[[], httpx.Response], int, str]] = [
        ("no token", lambda: client.get("/api/v1/jobs"), 401, "unauthorized"),
        ("not admin", lambda: user.get("/api/v1/users"), 403, "forbidden"),
        ("unknown job", lambda: admin.get(f"/api/v1/jobs/{uuid.uuid4()}"), 404, "not_found"),
        ("unknown route", lambda: admin.get("/api/v1/nothing-here"), 404, "not_found"),
        ("unknown root route", lambda: client.get("/nothing-here"), 404, "not_found"),
        ("wrong method", lambda: admin.client.put("/api/v1/jobs"), 405, "method_not_allowed"),
        (
            "duplicate",
            lambda: admin.post("/api/v1/jobs", json=job_body("taken")),
            409,
            "conflict",
        ),
        ("invalid body", lambda: admin.post("/api/v1/jobs", json={}), 422, "validation_error"),
        ("bad query", lambda: admin.get("/api/v1/jobs?limit=0"), 422, "validation_error"),
        ("bad path", lambda: admin.get("/api/v1/runs/xyz"), 422, "validation_error"),
        (
            "bad login",
            lambda: client.post(
                "/api/v1/auth/token", data={"username": "nobody", "password": "nothing-at-all"}
            ),
            401,
            "unauthorized",
        ),
    ]
    for name, call, status, code in cases:
        with subtests.test(case=name):
            assert_error_shape(call(), status, code)


def test_throttled_login_has_the_error_shape(clean_database: str) -> None:
    with TestClient(create_app(make_settings(clean_database, login_max_failures=1))) as client:
        create_user(client, "alice", USER_PASSWORD, is_admin=False)
        form = {"username": "alice", "password": "not-the-password"}
        assert client.post("/api/v1/auth/token", data=form).status_code == 401
        response = client.post("/api/v1/auth/token", data=form)
    assert_error_shape(response, 429, "too_many_requests")
    assert response.headers["retry-after"].isdigit()


def test_validation_errors_list_every_problem(admin: Api) -> None:
    response = admin.post("/api/v1/jobs", json={"schedule": "nope", "max_retries": -1})
    assert_error_shape(response, 422, "validation_error")
    body = response.json()
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"job_name", "schedule", "max_retries"}
    assert "(and 2 more)" in body["detail"]
    missing = next(e for e in body["errors"] if e["field"] == "job_name")
    assert missing["message"] == "is required"


def test_unknown_field_is_named(admin: Api) -> None:
    response = admin.post("/api/v1/jobs", json={**job_body(), "shedule": "@daily"})
    assert_error_shape(response, 422, "validation_error")
    assert response.json()["field"] == "shedule"
    assert "not a known field" in response.json()["detail"]


def test_wrong_method_lists_the_allowed_ones(admin: Api) -> None:
    response = admin.client.put(f"/api/v1/jobs/{uuid.uuid4()}", headers=admin.headers)
    assert_error_shape(response, 405, "method_not_allowed")
    # Starlette names only the first matching route's methods, so GET is all that is certain.
    allowed = set(response.headers["allow"].replace(" ", "").split(","))
    assert "GET" in allowed
    assert allowed <= {"GET", "HEAD", "PATCH", "DELETE"}


def test_unknown_route_names_the_path(client: TestClient) -> None:
    response = client.get("/api/v2/jobs")
    assert_error_shape(response, 404, "not_found")
    assert "/api/v2/jobs" in response.json()["detail"]


# -- bodies that are not what they should be ----------------------------------------------------


def test_invalid_json_body_is_a_validation_error(admin: Api) -> None:
    response = admin.client.post(
        "/api/v1/jobs",
        content=b'{"job_name": "x", ',
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert_error_shape(response, 422, "validation_error")
    assert "not valid JSON" in response.json()["detail"]
    assert response.json()["field"] == "body"


@pytest.mark.parametrize(
    "content",
    [b"[]", b'"a string"', b"42", b"null", b""],
    ids=["list", "str", "int", "null", "empty"],
)
def test_non_object_json_bodies_are_validation_errors(admin: Api, content: bytes) -> None:
    response = admin.client.post(
        "/api/v1/jobs",
        content=content,
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert_error_shape(response, 422, "validation_error")


def test_huge_numbers_are_validation_errors(admin: Api) -> None:
    response = admin.get(f"/api/v1/jobs?limit={10**30}")
    assert_error_shape(response, 422, "validation_error")
    body = job_body(max_retries=2**70, tasks=[])
    assert_error_shape(admin.post("/api/v1/jobs", json=body), 422, "validation_error")


def test_nul_byte_in_login_is_an_ordinary_failure(client: TestClient) -> None:
    # PostgreSQL text cannot hold U+0000: it must not reach the database as a query parameter.
    response = client.post(
        "/api/v1/auth/token", data={"username": "ad\x00min", "password": "whatever-password"}
    )
    assert_error_shape(response, 401, "unauthorized")


def test_nul_byte_in_job_fields_is_refused(admin: Api, subtests: pytest.Subtests) -> None:
    job_id = admin.post("/api/v1/jobs", json=job_body("ok")).json()["job_id"]
    cases: list[tuple[str, Callable[[], httpx.Response]]] = [
        ("job_name", lambda: admin.post("/api/v1/jobs", json=job_body("bad\x00name"))),
        (
            "description",
            lambda: admin.post("/api/v1/jobs", json=job_body("x", description="a\x00b")),
        ),
        (
            "description",
            lambda: admin.patch(f"/api/v1/jobs/{job_id}", json={"description": "\x00"}),
        ),
    ]
    for field, call in cases:
        with subtests.test(field=field):
            response = call()
            assert_error_shape(response, 422, "validation_error")
            assert response.json()["field"] == field
    assert [j["job_name"] for j in admin.get("/api/v1/jobs").json()] == ["ok"]


# -- request ids --------------------------------------------------------------------------------


def test_incoming_request_id_is_echoed(admin: Api) -> None:
    ok = admin.client.get("/api/v1/jobs", headers={**admin.headers, "X-Request-ID": "abc-123"})
    assert ok.status_code == 200
    assert ok.headers["x-request-id"] == "abc-123"
    missing = admin.client.get(f"/api/v1/jobs/{uuid.uuid4()}", headers={"X-Request-ID": "abc-123"})
    assert missing.headers["x-request-id"] == "abc-123"
    assert missing.json()["request_id"] == "abc-123"


@pytest.mark.parametrize(
    "incoming",
    ["has spaces", "x" * 65, "semi;colon", "back\\slash", ""],
    ids=["spaces", "too-long", "semicolon", "backslash", "empty"],
)
def test_unsafe_request_id_is_replaced(client: TestClient, incoming: str) -> None:
    response = client.get("/api/v1/jobs", headers={"X-Request-ID": incoming})
    generated = response.headers["x-request-id"]
    assert generated != incoming
    assert generated == response.json()["request_id"]
    assert len(generated) == 32
    int(generated, 16)


def test_request_ids_are_unique_and_on_success_too(client: TestClient) -> None:
    first = client.get("/health")
    second = client.get("/health")
    assert first.status_code == second.status_code == 200
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


# -- OpenAPI and docs ---------------------------------------------------------------------------


@pytest.fixture
def openapi(client: TestClient) -> dict[str, object]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec: dict[str, object] = response.json()
    return spec


def _operation(spec: dict[str, object], path: str, method: str) -> dict[str, object]:
    paths = spec["paths"]
    assert isinstance(paths, dict)
    assert path in paths, f"{path} missing from the OpenAPI document"
    assert method.lower() in paths[path], f"{method} {path} missing from the OpenAPI document"
    operation: dict[str, object] = paths[path][method.lower()]
    return operation


def _success_schema(operation: dict[str, object]) -> dict[str, object] | None:
    responses = operation["responses"]
    assert isinstance(responses, dict)
    success = [code for code in responses if code.startswith("2")]
    assert len(success) == 1, success
    content = responses[success[0]].get("content", {})
    if not content:
        return None
    schema: dict[str, object] = content["application/json"]["schema"]
    return schema


def test_openapi_lists_every_route(client: TestClient, openapi: dict[str, object]) -> None:
    routes = api_routes(client.app, documented_only=True)  # type: ignore[arg-type]
    assert len(routes) >= 20
    for method, path in routes:
        _operation(openapi, path, method)


@pytest.mark.parametrize(
    ("method", "path", "model"),
    [
        ("GET", "/api/v1/jobs/{job_id}", "JobDetail"),
        ("POST", "/api/v1/jobs", "JobDetail"),
        ("PATCH", "/api/v1/jobs/{job_id}", "JobDetail"),
        ("GET", "/api/v1/jobs/{job_id}/tasks/{task_id}", "TaskPublic"),
        ("GET", "/api/v1/runs/{run_id}", "RunDetail"),
        ("POST", "/api/v1/jobs/{job_id}/runs", "RunPublic"),
        ("POST", "/api/v1/auth/token", "Token"),
        ("GET", "/api/v1/users/me", "UserPublic"),
    ],
)
def test_openapi_names_response_models(
    openapi: dict[str, object], method: str, path: str, model: str
) -> None:
    schema = _success_schema(_operation(openapi, path, method))
    assert schema == {"$ref": f"#/components/schemas/{model}"}
    components = openapi["components"]
    assert isinstance(components, dict)
    assert model in components["schemas"]


def test_openapi_list_routes_return_arrays(client: TestClient, openapi: dict[str, object]) -> None:
    for path in ("/api/v1/jobs", "/api/v1/runs", "/api/v1/users", "/api/v1/jobs/{job_id}/tasks"):
        schema = _success_schema(_operation(openapi, path, "GET"))
        assert schema is not None
        assert schema["type"] == "array", path
        assert "$ref" in schema["items"], path  # type: ignore[operator]


def test_openapi_every_json_route_has_a_response_schema(
    client: TestClient, openapi: dict[str, object]
) -> None:
    for method, path in api_routes(client.app, documented_only=True):  # type: ignore[arg-type]
        if not path.startswith("/api/v1"):
            continue
        operation = _operation(openapi, path, method)
        schema = _success_schema(operation)
        if method == "DELETE":
            assert schema is None, f"{method} {path} answers 204 with no body"
            assert "204" in operation["responses"]  # type: ignore[operator]
        else:
            assert schema, f"{method} {path} has no response model"


def test_openapi_marks_protected_routes(openapi: dict[str, object]) -> None:
    assert _operation(openapi, "/api/v1/jobs", "GET").get("security")
    assert _operation(openapi, "/api/v1/runs/{run_id}", "GET").get("security")
    assert not _operation(openapi, "/api/v1/auth/token", "POST").get("security")
    assert not _operation(openapi, "/health", "GET").get("security")


def test_openapi_documents_the_real_error_shape(
    client: TestClient, openapi: dict[str, object]
) -> None:
    schemas = openapi["components"]["schemas"]  # type: ignore[index]
    for method, path in api_routes(client.app, documented_only=True):  # type: ignore[arg-type]
        responses = _operation(openapi, path, method)["responses"]
        assert isinstance(responses, dict)
        if path.startswith("/api/v1/") and path != "/api/v1/auth/token":
            assert "401" in responses, f"{method} {path} does not document 401"
        for status, response in responses.items():
            if not status.startswith("4") or "content" not in response:
                continue
            ref = response["content"]["application/json"]["schema"]["$ref"]
            properties = schemas[ref.rsplit("/", 1)[-1]]["properties"]
            assert set(properties) == ERROR_KEYS, f"{method} {path} {status}"


def test_docs_serve_html(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text
    # `/` is the dashboard: a visitor without a session is sent to its login page.
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_a_body_that_is_not_utf8_is_a_validation_error(admin: Api) -> None:
    # Found by the fuzzer: FastAPI answered an undocumented 400 for bytes it could not decode.
    garbage = b'{"job_name": "\xff\xfe"}'
    response = admin.client.post(
        "/api/v1/jobs",
        content=garbage,
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert_error_shape(response, 422, "validation_error")
    assert response.json()["field"] == "body"
    anonymous = admin.client.post(
        "/api/v1/jobs", content=garbage, headers={"Content-Type": "application/json"}
    )
    assert_error_shape(anonymous, 401, "unauthorized")
