"""Authentication: every protected route refuses bad credentials; logins are throttled.

The protected routes are enumerated from the app itself, so a route added later is covered
without touching this file.
"""

from __future__ import annotations

import base64
import json
import re
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from orcrustator.api.app import create_app
from orcrustator.api.deps import Services
from orcrustator.api.verified_tokens import VerifiedTokens
from orcrustator.auth.tokens import ALGORITHM, ISSUER, issue_token
from orcrustator.db.repo import users as users_repo
from tests.integration.conftest import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    Api,
    create_user,
    make_settings,
)

TOKEN_PATH = "/api/v1/auth/token"
OTHER_KEY = "a-different-signing-key-that-is-long-enough-for-hs256"


def api_routes(app: FastAPI, *, documented_only: bool = False) -> list[tuple[str, str]]:
    """Every (method, path) the app serves, flattening included routers on any FastAPI version."""
    candidates: list[Any]
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        candidates = [r for r in app.routes if isinstance(r, APIRoute)]
    else:
        candidates = [
            c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)
        ]
    found: set[tuple[str, str]] = set()
    for route in candidates:
        if documented_only and not route.include_in_schema:
            continue
        for method in route.methods or ():
            found.add((method, str(route.path)))
    return sorted(found, key=lambda mp: (mp[1], mp[0]))


def protected_routes(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path in api_routes(app)
        if path.startswith("/api/v1/") and path != TOKEN_PATH
    ]


def concrete(path: str) -> str:
    """Fill every `{param}` with a random UUID."""
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


def assert_all_refused(client: TestClient, headers: dict[str, str]) -> None:
    routes = protected_routes(client.app)  # type: ignore[arg-type]
    wrong = []
    for method, path in routes:
        response = client.request(method, concrete(path), headers=headers)
        if (
            response.status_code != 401
            or response.headers.get("www-authenticate") != "Bearer"
            or response.json().get("code") != "unauthorized"
        ):
            wrong.append(f"{method} {path} -> {response.status_code} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(user_id: str, **changes: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": user_id,
        "iss": ISSUER,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _key(client: TestClient) -> str:
    return str(client.app.state.services.token_key)  # type: ignore[attr-defined]


def _tampered(key: str, user_id: str) -> str:
    """A genuine token whose payload is swapped for another user's, keeping the signature."""
    header, _payload, signature = issue_token(key, uuid.UUID(user_id), 3600).split(".")
    return ".".join([header, _b64(_claims(str(uuid.uuid4()))), signature])


BAD_TOKENS: dict[str, Callable[[str, str], str]] = {
    "garbage": lambda key, uid: "not-a-jwt",
    "other-key": lambda key, uid: issue_token(OTHER_KEY, uuid.UUID(uid), 3600),
    "expired": lambda key, uid: issue_token(
        key, uuid.UUID(uid), 60, now=datetime.now(UTC) - timedelta(hours=2)
    ),
    "alg-none": lambda key, uid: jwt.encode(_claims(uid), key=None, algorithm="none"),
    "alg-none-by-hand": lambda key, uid: (
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(uid))}."
    ),
    "hs512-same-key": lambda key, uid: jwt.encode(_claims(uid), key, algorithm="HS512"),
    "wrong-issuer": lambda key, uid: jwt.encode(
        _claims(uid, iss="someone-else"), key, algorithm=ALGORITHM
    ),
    "no-expiry": lambda key, uid: jwt.encode(_claims(uid, exp=None), key, algorithm=ALGORITHM),
    "subject-not-a-uuid": lambda key, uid: jwt.encode(_claims("admin"), key, algorithm=ALGORITHM),
    "unknown-user": lambda key, uid: issue_token(key, uuid.uuid4(), 3600),
    "tampered-payload": _tampered,
}


# -- the route enumeration itself ---------------------------------------------------------------


def test_route_enumeration_finds_every_resource(client: TestClient) -> None:
    routes = protected_routes(client.app)  # type: ignore[arg-type]
    assert ("GET", "/api/v1/users/me") in routes
    assert ("DELETE", "/api/v1/jobs/{job_id}/tasks/{task_id}") in routes
    assert ("POST", "/api/v1/runs/{run_id}/cancel") in routes
    assert ("POST", TOKEN_PATH) not in routes
    assert len(routes) >= 20


# -- 401 on every protected route ---------------------------------------------------------------


def test_every_route_refuses_a_missing_token(client: TestClient) -> None:
    assert_all_refused(client, {})


def test_every_route_refuses_bad_tokens(admin: Api) -> None:
    client = admin.client
    user_id = admin.get("/api/v1/users/me").json()["user_id"]
    # The control: a hand-made token with the app's key and the right claims is accepted.
    valid = jwt.encode(_claims(user_id), _key(client), algorithm=ALGORITHM)
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {valid}"})
    assert me.status_code == 200
    assert me.json()["user_id"] == user_id

    for kind, make in BAD_TOKENS.items():
        header = {"Authorization": f"Bearer {make(_key(client), user_id)}"}
        try:
            assert_all_refused(client, header)
        except AssertionError as exc:
            raise AssertionError(f"token kind {kind!r} was accepted somewhere:\n{exc}") from None
    real = admin.headers["Authorization"].removeprefix("Bearer ")
    assert_all_refused(client, {"Authorization": f"Basic {real}"})
    assert_all_refused(client, {"Authorization": real})


def test_malformed_body_without_a_token_is_still_unauthorized(client: TestClient) -> None:
    wrong = []
    for method, path in protected_routes(client.app):  # type: ignore[arg-type]
        if method not in {"POST", "PATCH", "PUT"}:
            continue
        response = client.request(
            method,
            concrete(path),
            content=b'{"not": "finished',
            headers={"Content-Type": "application/json"},
        )
        if response.status_code != 401:
            wrong.append(f"{method} {path} -> {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_expired_token_says_so(admin: Api) -> None:
    user_id = admin.get("/api/v1/users/me").json()["user_id"]
    token = BAD_TOKENS["expired"](_key(admin.client), user_id)
    response = admin.client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_every_route_refuses_a_deleted_users_token(admin: Api, user: Api) -> None:
    me = user.get("/api/v1/users/me")
    assert me.status_code == 200
    assert admin.delete(f"/api/v1/users/{me.json()['user_id']}").status_code == 204
    assert_all_refused(admin.client, user.headers)
    assert "no longer exists" in user.get("/api/v1/users/me").json()["detail"]


def test_a_user_deleted_by_another_process_loses_access_within_the_token_memory(
    admin: Api, user: Api
) -> None:
    """Deleted behind this api's back (`orc users delete`, another replica): refused once the
    api's memory of the checked token lapses, however often the token was used meanwhile."""
    services: Services = admin.client.app.state.services  # type: ignore[attr-defined]
    services.tokens = VerifiedTokens(ttl_seconds=0.5)
    user_id = uuid.UUID(user.get("/api/v1/users/me").json()["user_id"])

    async def delete_directly() -> None:
        async with services.db.write() as conn:
            await users_repo.delete(conn, user_id)

    admin.client.portal.call(delete_directly)  # type: ignore[union-attr]
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        status = user.get("/api/v1/users/me").status_code
        assert status in (200, 401)
    time.sleep(0.05)
    response = user.get("/api/v1/users/me")
    assert response.status_code == 401
    assert "no longer exists" in response.json()["detail"]


# -- the token response -------------------------------------------------------------------------


def test_token_response_shape(client: TestClient) -> None:
    create_user(client, "alice", USER_PASSWORD, is_admin=False)
    response = client.post(TOKEN_PATH, data={"username": "alice", "password": USER_PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    ttl = client.app.state.services.settings.token_ttl_seconds  # type: ignore[attr-defined]
    assert body["expires_in"] == ttl
    claims = jwt.decode(body["access_token"], _key(client), algorithms=[ALGORITHM])
    assert claims["exp"] - claims["iat"] == ttl
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert claims["sub"] == me.json()["user_id"]


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient) -> None:
    create_user(client, "alice", USER_PASSWORD, is_admin=False)
    wrong = client.post(TOKEN_PATH, data={"username": "alice", "password": "not-the-password"})
    unknown = client.post(TOKEN_PATH, data={"username": "nobody", "password": USER_PASSWORD})
    # Usernames are exact: another case is another (unknown) user.
    other_case = client.post(TOKEN_PATH, data={"username": "ALICE", "password": USER_PASSWORD})
    for response in (wrong, unknown, other_case):
        assert response.status_code == 401
        assert response.json()["detail"] == wrong.json()["detail"]
        assert response.json()["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"


def test_login_needs_both_form_fields(client: TestClient) -> None:
    response = client.post(TOKEN_PATH, data={"username": "admin"})
    assert response.status_code == 422
    assert response.json()["field"] == "password"


def test_login_refuses_json_credentials(client: TestClient) -> None:
    response = client.post(TOKEN_PATH, json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 422


# -- throttling ---------------------------------------------------------------------------------


@pytest.fixture
def throttled_app(clean_database: str) -> Iterator[Callable[[int], TestClient]]:
    """Build an app allowing `max_failures` failed logins per username (4x per address)."""
    with ExitStack() as stack:

        def build(max_failures: int) -> TestClient:
            settings = make_settings(clean_database, login_max_failures=max_failures)
            client = stack.enter_context(TestClient(create_app(settings)))
            create_user(client, "alice", USER_PASSWORD, is_admin=False)
            return client

        yield build


def _attempt(client: TestClient, username: str, password: str) -> httpx.Response:
    response: httpx.Response = client.post(
        TOKEN_PATH, data={"username": username, "password": password}
    )
    return response


def _assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "too_many_requests"
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= 300


def test_failures_for_one_username_lock_it_even_for_the_right_password(
    throttled_app: Callable[[int], TestClient],
) -> None:
    client = throttled_app(3)
    create_user(client, "bob", USER_PASSWORD, is_admin=False)
    for _ in range(3):
        assert _attempt(client, "alice", "wrong-password-x").status_code == 401
    _assert_throttled(_attempt(client, "alice", USER_PASSWORD))
    # Only that username is locked: another user from the same address still logs in.
    assert _attempt(client, "bob", USER_PASSWORD).status_code == 200


def test_successful_login_resets_the_username_count(
    throttled_app: Callable[[int], TestClient],
) -> None:
    client = throttled_app(3)
    for _ in range(2):
        assert _attempt(client, "alice", "wrong-password-x").status_code == 401
    assert _attempt(client, "alice", USER_PASSWORD).status_code == 200
    for _ in range(2):
        assert _attempt(client, "alice", "wrong-password-x").status_code == 401
    assert _attempt(client, "alice", USER_PASSWORD).status_code == 200


def test_unknown_usernames_are_throttled_too(throttled_app: Callable[[int], TestClient]) -> None:
    client = throttled_app(1)
    assert _attempt(client, "ghost", "some-password-x").status_code == 401
    _assert_throttled(_attempt(client, "ghost", "some-password-x"))


def test_many_usernames_from_one_address_lock_the_address(
    throttled_app: Callable[[int], TestClient],
) -> None:
    client = throttled_app(1)  # so the address allows 4 failures
    for i in range(3):
        assert _attempt(client, f"spray-{i}", "some-password-x").status_code == 401
    # Below the address limit a correct login still works (and does not clear the address).
    assert _attempt(client, "alice", USER_PASSWORD).status_code == 200
    assert _attempt(client, "spray-3", "some-password-x").status_code == 401
    _assert_throttled(_attempt(client, "spray-new", "some-password-x"))
    _assert_throttled(_attempt(client, "alice", USER_PASSWORD))


# -- timing -------------------------------------------------------------------------------------


def test_unknown_username_costs_as_much_as_a_wrong_password(clean_database: str) -> None:
    settings = make_settings(clean_database, login_max_failures=1000)
    with TestClient(create_app(settings)) as client:
        create_user(client, "alice", USER_PASSWORD, is_admin=False)
        _attempt(client, "warm-up", "some-password-x")
        unknown: list[float] = []
        wrong: list[float] = []
        for i in range(5):
            started = time.perf_counter()
            assert _attempt(client, f"ghost-{i}", "some-password-x").status_code == 401
            unknown.append(time.perf_counter() - started)
            started = time.perf_counter()
            assert _attempt(client, "alice", "some-password-x").status_code == 401
            wrong.append(time.perf_counter() - started)
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 < ratio < 2, (unknown, wrong)
