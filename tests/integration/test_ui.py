"""The web dashboard through the app's real ASGI stack, on SQLite and PostgreSQL.

Sessions are cookies holding a signed token; every POST form carries a CSRF token bound to the
session; pages without a session redirect to the login form; errors are designed HTML pages.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from orcrustator.ui.security import SECURITY_HEADERS, SESSION_COOKIE
from tests.integration.conftest import ADMIN_PASSWORD, USER_PASSWORD, Api, job_body

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(page: httpx.Response) -> str:
    match = CSRF.search(page.text)
    assert match, f"no CSRF field on {page.url}"
    return match.group(1)


def ui_login(
    client: TestClient, username: str, password: str, *, next_url: str = "/"
) -> httpx.Response:
    form = client.get("/login")
    assert form.status_code == 200
    response: httpx.Response = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_from(form),
            "next": next_url,
        },
        follow_redirects=False,
    )
    return response


def logged_in(client: TestClient, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    """Log the client in; return the CSRF token for its forms."""
    response = ui_login(client, username, password)
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/"))


def make_job(api: Api, **overrides: Any) -> dict[str, Any]:
    response = api.post("/api/v1/jobs", json=job_body(**overrides))
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job


def set_cookie_header(response: httpx.Response, name: str) -> str:
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(f"{name}="):
            return value
    raise AssertionError(f"no {name} cookie set: {response.headers.get_list('set-cookie')}")


# --- login, sessions, redirects ---------------------------------------------------------------


def test_login_sets_an_httponly_samesite_session_cookie(client: TestClient, admin: Api) -> None:
    response = ui_login(client, "admin", ADMIN_PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = set_cookie_header(response, SESSION_COOKIE).lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie, "plain http: a Secure cookie would never come back"
    page = client.get("/")
    assert page.status_code == 200
    assert "admin" in page.text


def test_session_cookie_is_secure_over_https(client: TestClient, admin: Api) -> None:
    form = client.get("https://testserver/login")
    response = client.post(
        "https://testserver/login",
        data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": csrf_from(form)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "secure" in set_cookie_header(response, SESSION_COOKIE).lower()


def test_pages_need_a_session(client: TestClient) -> None:
    for path in ("/", "/runs", f"/jobs/{uuid.uuid4()}", "/users"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == f"/login?next={path}"
    run_page = f"/runs/{uuid.uuid4()}"
    fragment = client.get(f"{run_page}/live", follow_redirects=False)
    assert fragment.headers["location"] == f"/login?next={run_page}", "back to the page"
    query = client.get("/runs?status=failed", follow_redirects=False)
    assert query.headers["location"] == "/login?next=/runs%3Fstatus%3Dfailed"
    post = client.post(f"/jobs/{uuid.uuid4()}/trigger", follow_redirects=False)
    assert post.status_code == 303
    assert post.headers["location"] == "/login?next=/"


def test_an_invalid_session_cookie_is_a_redirect_and_is_cleared(
    client: TestClient, admin: Api
) -> None:
    client.cookies.set(SESSION_COOKIE, "not-a-token")
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/"
    assert 'orc_session=""' in set_cookie_header(response, SESSION_COOKIE)


def test_api_bearer_token_does_not_open_pages(client: TestClient, admin: Api) -> None:
    assert admin.get("/", follow_redirects=False).status_code == 303


def test_login_returns_to_next(client: TestClient, admin: Api) -> None:
    job = make_job(admin)
    target = f"/jobs/{job['job_id']}"
    redirect = client.get(target, follow_redirects=False)
    form = client.get(redirect.headers["location"])
    assert f'name="next" value="{target}"' in form.text
    response = ui_login(client, "admin", ADMIN_PASSWORD, next_url=target)
    assert response.headers["location"] == target


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example/path",
        "/\\evil.example",
        "https:/evil.example",
        "javascript:alert(1)",
        "/%0d%0aSet-Cookie:x=1",
    ],
)
def test_open_redirects_are_ignored(client: TestClient, admin: Api, target: str) -> None:
    response = ui_login(client, "admin", ADMIN_PASSWORD, next_url=target)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "evil" not in location or location == target  # only a local path survives
    assert (
        client.get(f"/login?next={target}", follow_redirects=False)
        .headers["location"]
        .startswith("/")
    )


def test_wrong_password_shows_the_form_again(client: TestClient, admin: Api) -> None:
    response = ui_login(client, "admin", "wrong-password-here")
    assert response.status_code == 401
    assert "Wrong username or password" in response.text
    assert SESSION_COOKIE not in client.cookies
    unknown = ui_login(client, "nobody", "whatever-password")
    assert unknown.status_code == 401


def test_login_shares_the_api_throttle(client: TestClient, admin: Api) -> None:
    for _ in range(5):
        failed = client.post(
            "/api/v1/auth/token", data={"username": "admin", "password": "wrong-password!"}
        )
        assert failed.status_code == 401
    response = ui_login(client, "admin", ADMIN_PASSWORD)
    assert response.status_code == 429
    assert "Too many failed logins" in response.text
    assert int(response.headers["retry-after"]) >= 1


def test_login_form_needs_its_csrf_token(client: TestClient, admin: Api) -> None:
    client.get("/login")
    for token in ("", "forged"):
        response = client.post(
            "/login",
            data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 403
        assert "text/html" in response.headers["content-type"]
    assert SESSION_COOKIE not in client.cookies


def test_logout_ends_the_session(client: TestClient, admin: Api) -> None:
    csrf = logged_in(client)
    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert 'orc_session=""' in set_cookie_header(response, SESSION_COOKIE)
    assert client.get("/", follow_redirects=False).status_code == 303
    assert "You have been logged out" in client.get("/login").text


def test_deleted_user_loses_the_session(client: TestClient, user: Api, admin: Api) -> None:
    logged_in(client, "alice", USER_PASSWORD)
    me = user.get("/api/v1/users/me").json()
    assert admin.delete(f"/api/v1/users/{me['user_id']}").status_code == 204
    assert client.get("/", follow_redirects=False).status_code == 303


# --- CSRF and headers ---------------------------------------------------------------------------


def test_posts_without_the_right_csrf_token_are_refused(client: TestClient, admin: Api) -> None:
    job = make_job(admin)
    logged_in(client)
    paths = (
        f"/jobs/{job['job_id']}/trigger",
        f"/jobs/{job['job_id']}/active",
        f"/runs/{uuid.uuid4()}/cancel",
        "/users",
        "/logout",
    )
    for token in (None, "", "0" * 64, "wrong"):
        data = {} if token is None else {"csrf_token": token}
        for path in paths:
            response = client.post(path, data=data, follow_redirects=False)
            assert response.status_code == 403, (path, token)
            assert "text/html" in response.headers["content-type"]
            assert "did not come from this site" in response.text
    assert admin.get("/api/v1/runs").json() == [], "nothing was triggered"
    assert admin.get(f"/api/v1/jobs/{job['job_id']}").json()["is_active"] is True


def test_csrf_token_of_another_session_is_refused(
    client: TestClient, admin: Api, user: Api
) -> None:
    job = make_job(admin)
    alice_token = logged_in(client, "alice", USER_PASSWORD)
    client.cookies.clear()
    logged_in(client)  # now admin, with a different session
    response = client.post(
        f"/jobs/{job['job_id']}/trigger", data={"csrf_token": alice_token}, follow_redirects=False
    )
    assert response.status_code == 403


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, (response.url, name)
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


def test_security_headers_on_pages(client: TestClient, admin: Api) -> None:
    assert_security_headers(client.get("/login"))
    assert_security_headers(client.get("/", follow_redirects=False))  # the redirect too
    csrf = logged_in(client)
    for path in ("/", "/runs", "/users", f"/jobs/{uuid.uuid4()}", "/jobs/bad-id"):
        response = client.get(path)
        assert_security_headers(response)
        assert response.headers["cache-control"] == "no-store"
    assert_security_headers(client.post("/logout", data={"csrf_token": "x"}))
    assert_security_headers(client.post("/logout", data={"csrf_token": csrf}))


def test_static_assets_are_served_locally_with_headers(client: TestClient) -> None:
    page = client.get("/login")
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert len(assets) >= 3, assets
    assert not re.search(r'(?:href|src)="(?:https?:)?//', page.text), "nothing from elsewhere"
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" in response.headers
    assert client.get("/static/../templates/base.html").status_code == 404


# --- pages ----------------------------------------------------------------------------------


def test_empty_state_without_jobs(client: TestClient, admin: Api) -> None:
    logged_in(client)
    page = client.get("/")
    assert page.status_code == 200
    assert "No jobs yet" in page.text
    assert "orc jobs apply" in page.text


def test_jobs_page_lists_a_job_created_through_the_api(client: TestClient, admin: Api) -> None:
    make_job(admin, job_name="nightly-orders", schedule="30 2 * * *", timezone="Europe/Berlin")
    make_job(admin, job_name="paused-one", is_active=False)
    logged_in(client)
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "nightly-orders" in page.text
    assert "every day at 02:30" in page.text
    assert "Europe/Berlin" in page.text
    assert "never run" in page.text
    assert 'aria-checked="false"' in page.text and 'aria-checked="true"' in page.text


def test_job_page_shows_tasks_with_masked_configs(client: TestClient, admin: Api) -> None:
    job = make_job(
        admin,
        tasks=[
            {
                "task_order": 1,
                "extractor_config": {
                    "type": "http",
                    "url": "https://api.example.com/items",
                    "headers": {"Authorization": "Bearer very-secret-token"},
                },
                "loader_config": {
                    "type": "postgres",
                    "url": "postgresql://etl:db-password-123@db.example/warehouse",
                    "table": "items",
                },
            }
        ],
    )
    logged_in(client)
    page = client.get(f"/jobs/{job['job_id']}")
    assert page.status_code == 200
    assert "very-secret-token" not in page.text
    assert "db-password-123" not in page.text
    assert "postgresql://etl:***@db.example/warehouse" in page.text
    assert "http" in page.text and "postgres" in page.text
    assert "Trigger now" in page.text
    assert "This job has not run yet" in page.text


def test_trigger_and_cancel_through_the_forms(client: TestClient, admin: Api) -> None:
    job = make_job(admin)
    csrf = logged_in(client)
    triggered = client.post(
        f"/jobs/{job['job_id']}/trigger", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert triggered.status_code == 303
    run_path = triggered.headers["location"]
    assert re.fullmatch(r"/runs/[0-9a-f-]{36}", run_path)
    run_id = run_path.rsplit("/", 1)[1]
    run = admin.get(f"/api/v1/runs/{run_id}").json()
    assert (run["status"], run["triggered_by"]) == ("queued", "manual")

    page = client.get(run_path)
    assert page.status_code == 200
    assert "Run triggered" in page.text  # the flash message, shown once
    assert "Run triggered" not in client.get(run_path).text
    assert 'data-run-status="queued"' in page.text
    assert f'data-poll="{run_path}/live"' in page.text
    live = client.get(f"{run_path}/live")
    assert live.status_code == 200
    assert live.text.lstrip().startswith('<div id="run-live"')
    assert "<html" not in live.text

    cancelled = client.post(f"{run_path}/cancel", data={"csrf_token": csrf}, follow_redirects=False)
    assert cancelled.status_code == 303
    assert cancelled.headers["location"] == run_path
    assert admin.get(f"/api/v1/runs/{run_id}").json()["status"] == "cancelled"
    page = client.get(run_path)
    assert 'data-run-status="cancelled"' in page.text
    assert "data-poll" not in page.text, "a finished run is not polled"
    assert "Cancel run" not in page.text

    again = client.post(f"{run_path}/cancel", data={"csrf_token": csrf})
    assert again.status_code == 200
    assert "already finished" in again.text

    job_page = client.get(f"/jobs/{job['job_id']}")
    assert run_id[:8] in job_page.text
    assert "cancelled" in job_page.text
    runs_page = client.get("/runs?status=cancelled")
    assert run_id[:8] in runs_page.text
    assert run_id[:8] not in client.get("/runs?status=success").text


def test_active_toggle_pauses_and_resumes(client: TestClient, admin: Api) -> None:
    job = make_job(admin)
    csrf = logged_in(client)
    url = f"/jobs/{job['job_id']}/active"
    paused = client.post(
        url, data={"csrf_token": csrf, "is_active": "false", "next": "/"}, follow_redirects=False
    )
    assert paused.status_code == 303
    assert paused.headers["location"] == "/"
    assert admin.get(f"/api/v1/jobs/{job['job_id']}").json()["is_active"] is False
    assert "paused" in client.get("/").text
    resumed = client.post(
        url,
        data={"csrf_token": csrf, "is_active": "true", "next": "https://evil.example"},
        follow_redirects=False,
    )
    assert resumed.headers["location"] == f"/jobs/{job['job_id']}"
    assert admin.get(f"/api/v1/jobs/{job['job_id']}").json()["is_active"] is True


def test_unknown_and_malformed_ids_are_designed_404_pages(client: TestClient, admin: Api) -> None:
    logged_in(client)
    for path in (
        "/jobs/not-a-uuid",
        f"/jobs/{uuid.uuid4()}",
        f"/runs/{uuid.uuid4()}",
        "/runs/12345",
        "/runs/%00",
        f"/runs/{uuid.uuid4()}/live",
        "/jobs/x/y/z",
        "/users/whatever",
        "/?page=0",
    ):
        response = client.get(path)
        assert response.status_code in (400, 404), path
        assert response.headers["content-type"].startswith("text/html"), path
        assert "Back to jobs" in response.text, path
        assert response.status_code == 404 or path.startswith("/?"), path


def test_posts_to_unknown_ids_are_404(client: TestClient, admin: Api) -> None:
    csrf = logged_in(client)
    for path in (f"/jobs/{uuid.uuid4()}/trigger", "/jobs/nope/trigger", "/runs/nope/cancel"):
        response = client.post(path, data={"csrf_token": csrf})
        assert response.status_code == 404, path
        assert "text/html" in response.headers["content-type"]


# --- users ---------------------------------------------------------------------------------


def test_users_page_is_admin_only(client: TestClient, user: Api) -> None:
    csrf = logged_in(client, "alice", USER_PASSWORD)
    page = client.get("/users")
    assert page.status_code == 403
    assert "Only administrators" in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert 'href="/users"' not in client.get("/").text, "no Users link for non-admins"
    response = client.post(
        "/users",
        data={"csrf_token": csrf, "username": "mallory", "password": "mallory-password-1"},
    )
    assert response.status_code == 403


def test_admin_creates_and_deletes_users(client: TestClient, admin: Api) -> None:
    csrf = logged_in(client)
    page = client.get("/users")
    assert page.status_code == 200
    assert "admin" in page.text

    created = client.post(
        "/users",
        data={
            "csrf_token": csrf,
            "username": "bob",
            "password": "bob-password-1234",
            "is_admin": "true",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    listed = {u["username"]: u for u in admin.get("/api/v1/users").json()}
    assert listed["bob"]["is_admin"] is True
    assert "Created administrator bob" in client.get("/users").text

    short = client.post(
        "/users", data={"csrf_token": csrf, "username": "carol", "password": "short"}
    )
    assert short.status_code == 422
    assert "at least 12 characters" in short.text
    assert 'value="carol"' in short.text, "the form keeps what was typed"
    duplicate = client.post(
        "/users", data={"csrf_token": csrf, "username": "bob", "password": "another-password-1"}
    )
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.text
    bad_name = client.post(
        "/users", data={"csrf_token": csrf, "username": "-bad name", "password": "x" * 12}
    )
    assert bad_name.status_code == 422

    deleted = client.post(
        f"/users/{listed['bob']['user_id']}/delete",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    assert "bob" not in {u["username"] for u in admin.get("/api/v1/users").json()}

    me = admin.get("/api/v1/users/me").json()
    myself = client.post(f"/users/{me['user_id']}/delete", data={"csrf_token": csrf})
    assert "cannot delete your own account" in myself.text
    assert len(admin.get("/api/v1/users").json()) == 1


def test_user_forms_never_echo_passwords(client: TestClient, admin: Api) -> None:
    csrf = logged_in(client)
    response = client.post(
        "/users",
        data={"csrf_token": csrf, "username": "dave", "password": "secret-but-short"[:11]},
    )
    assert "secret-but" not in response.text
