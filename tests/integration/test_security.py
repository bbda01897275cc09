"""Security gaps the other suites leave open, on both backends.

- authorization of every route, API and dashboard, for an anonymous caller, a user and an admin,
  enumerated from the app so that a new route has to be classified here;
- path traversal (symlinks included) and SQL identifier injection through the API, in every
  plugin option that names a file, a table or a column;
- secrets (`${env:NAME}` values and passwords written into URLs) in no API response, no page,
  no log line and no error message, across a real run that succeeds and one that fails.

Tokens (expiry, tampering, `alg: none`, another key) and login throttling: test_api_auth.py;
cookies, CSRF and security headers of the dashboard: test_ui.py; CORS: test_api_cors.py.
"""

from __future__ import annotations

import os
import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from orcrustator.api.app import create_app
from orcrustator.db.engine import Database
from orcrustator.db.urls import parse_database_url
from orcrustator.worker.executor_child import TaskSpec, _Reporter, run_task
from tests.conftest import create_postgres_database, drop_postgres_database, postgres_server_url
from tests.integration.conftest import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    Api,
    create_user,
    job_body,
    login,
    make_settings,
)
from tests.integration.test_api_auth import api_routes
from tests.integration.test_engine_inprocess import wait_for, with_engine
from tests.integration.test_ui import logged_in

# --- authorization -----------------------------------------------------------------------------

ADMIN_ONLY_API = {
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("DELETE", "/api/v1/users/{user_id}"),
}
# Answer without a token, on purpose: liveness, scraping, logging in, and the API's docs.
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/metrics"),
    ("POST", "/api/v1/auth/token"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/logout"),
}
ADMIN_ONLY_PAGES = {("GET", "/users"), ("POST", "/users"), ("POST", "/users/{user_id}/delete")}


def all_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app routes, documented or not (HEAD is GET's twin)."""
    found = set(api_routes(app))
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        plain = list(app.routes)
    else:
        plain = [c.original_route for c in iter_route_contexts(app.routes)]
    for route in plain:
        if isinstance(route, APIRoute):
            continue
        for method in getattr(route, "methods", None) or ():
            found.add((method, str(route.path)))
    return sorted((m, p) for m, p in found if m != "HEAD")


def dashboard_routes(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (m, p)
        for m, p in all_routes(app)
        if not p.startswith("/api/") and (m, p) not in PUBLIC and p not in {"/health", "/metrics"}
    ]


def concrete(path: str) -> str:
    path = path.replace("{rest:path}", "anything/here")
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


def test_only_the_intended_routes_are_public(client: TestClient) -> None:
    open_routes = []
    for method, path in all_routes(client.app):  # type: ignore[arg-type]
        if path.startswith("/static"):
            continue
        response = client.request(method, concrete(path), follow_redirects=False)
        refused = response.status_code == 401 or (
            response.status_code == 303 and response.headers["location"].startswith("/login")
        )
        if not refused:
            open_routes.append((method, path))
    assert set(open_routes) == PUBLIC


def test_users_reach_every_api_route_except_the_admin_ones(admin: Api, user: Api) -> None:
    routes = [
        (m, p)
        for m, p in api_routes(admin.client.app)  # type: ignore[arg-type]
        if p.startswith("/api/v1/") and p != "/api/v1/auth/token"
    ]
    assert set(routes) >= ADMIN_ONLY_API, "an admin route was renamed: update ADMIN_ONLY_API"
    body = {"username": "mallory", "password": "mallory-password-1", "is_admin": True}
    wrong = []
    for method, path in routes:
        url = concrete(path)
        kwargs: dict[str, Any] = {"json": body} if method in {"POST", "PATCH"} else {}
        as_user = user.client.request(method, url, headers=user.headers, **kwargs)
        as_admin = admin.client.request(method, url, headers=admin.headers, **kwargs)
        expected_for_user = {403} if (method, path) in ADMIN_ONLY_API else None
        if expected_for_user is not None and as_user.status_code not in expected_for_user:
            wrong.append(f"user {method} {path} -> {as_user.status_code}, not 403")
        if expected_for_user is None and as_user.status_code in {401, 403}:
            wrong.append(f"user {method} {path} -> {as_user.status_code}")
        if as_admin.status_code in {401, 403} or as_admin.status_code >= 500:
            wrong.append(f"admin {method} {path} -> {as_admin.status_code}")
        if (method, path) in ADMIN_ONLY_API and as_user.status_code == 403:
            assert as_user.json()["code"] == "forbidden"
    assert not wrong, "\n".join(wrong)
    names = [u["username"] for u in admin.get("/api/v1/users").json()]
    assert names.count("mallory") == 1, "created once, by the admin; never by the user"


def test_every_dashboard_route_by_role(client: TestClient, admin: Api, user: Api) -> None:
    routes = dashboard_routes(client.app)  # type: ignore[arg-type]
    assert set(routes) >= ADMIN_ONLY_PAGES
    assert ("POST", "/jobs/{job_id}/trigger") in routes
    wrong = []
    for method, path in routes:
        response = client.request(method, concrete(path), follow_redirects=False)
        if response.status_code != 303 or not response.headers["location"].startswith("/login"):
            wrong.append(f"anonymous {method} {path} -> {response.status_code}")

    for username, password in (("alice", USER_PASSWORD), ("admin", ADMIN_PASSWORD)):
        client.cookies.clear()
        csrf = logged_in(client, username, password)
        for method, path in routes:
            if path == "/logout":
                continue  # it would end the session the loop is using
            data = {"csrf_token": csrf} if method == "POST" else None
            response = client.request(method, concrete(path), data=data, follow_redirects=False)
            to_login = response.status_code == 303 and response.headers["location"].startswith(
                "/login"
            )
            admin_only = (method, path) in ADMIN_ONLY_PAGES
            if username == "alice" and admin_only and response.status_code != 403:
                wrong.append(f"user {method} {path} -> {response.status_code}, not 403")
            elif (not admin_only or username == "admin") and (
                response.status_code in {401, 403} or to_login or response.status_code >= 500
            ):
                wrong.append(f"{username} {method} {path} -> {response.status_code}")
    assert not wrong, "\n".join(wrong)


# --- path traversal ----------------------------------------------------------------------------

PG_URL = "postgresql://etl@db.example/warehouse"


def file_options() -> list[tuple[str, dict[str, Any], str]]:
    """(config side, config with PATH where the file goes, field the error names)."""
    return [
        ("extractor_config", {"type": "csv", "path": "PATH"}, "path"),
        ("extractor_config", {"type": "jsonl", "path": "PATH"}, "path"),
        ("extractor_config", {"type": "parquet", "path": "PATH"}, "path"),
        ("extractor_config", {"type": "sql", "url": "sqlite:///PATH", "table": "t"}, "url"),
        ("loader_config", {"type": "csv", "path": "PATH"}, "path"),
        ("loader_config", {"type": "jsonl", "path": "PATH"}, "path"),
        ("loader_config", {"type": "parquet", "path": "PATH"}, "path"),
        ("loader_config", {"type": "sqlite", "path": "PATH", "table": "t"}, "path"),
    ]


def _with_path(config: dict[str, Any], path: str) -> dict[str, Any]:
    return {k: (v.replace("PATH", path) if isinstance(v, str) else v) for k, v in config.items()}


def _task(side: str, config: dict[str, Any]) -> dict[str, Any]:
    task: dict[str, Any] = {
        "task_order": 1,
        "extractor_config": {"type": "generate", "rows": 1},
        "loader_config": {"type": "null"},
    }
    task[side] = config
    return task


@pytest.fixture
def data_app(clean_database: str, tmp_path: Path) -> Iterator[tuple[Api, Path]]:
    data_dir = tmp_path / "data"
    (data_dir / "in").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    settings = make_settings(clean_database, data_dir=data_dir)
    with TestClient(create_app(settings)) as client:
        create_user(client, "admin", ADMIN_PASSWORD, is_admin=True)
        yield Api(client, login(client, "admin", ADMIN_PASSWORD)), data_dir


def test_every_file_option_refuses_paths_that_leave_the_data_dir(
    data_app: tuple[Api, Path], subtests: pytest.Subtests
) -> None:
    api, data_dir = data_app
    outside = data_dir.parent / "outside"
    os.symlink(outside, data_dir / "in" / "dir-link")
    os.symlink(outside / "x.csv", data_dir / "in" / "file-link.csv")
    escapes = [
        "../outside/x.csv",
        "in/../../outside/x.csv",
        str(outside / "x.csv"),
        "in/dir-link/x.csv",  # a symlinked directory on the way
        "in/file-link.csv",  # a symlink to a file outside (even a missing one)
    ]
    for side, config, option in file_options():
        for path in escapes:
            with subtests.test(plugin=config["type"], side=side, path=path):
                task = _task(side, _with_path(config, path))
                response = api.post(
                    "/api/v1/jobs", json=job_body(f"j{uuid.uuid4().hex[:6]}", tasks=[task])
                )
                assert response.status_code == 422, response.text
                assert response.json()["field"] == f"tasks[0].{side}.{option}"
                assert "outside the data directory" in response.json()["detail"]
        with subtests.test(plugin=config["type"], side=side, path="inside"):
            inside = _with_path(config, "in/ok.file")
            response = api.post(
                "/api/v1/jobs",
                json=job_body(f"ok{uuid.uuid4().hex[:6]}", tasks=[_task(side, inside)]),
            )
            assert response.status_code == 201, response.text


def _run_task(extractor: dict[str, Any], loader: dict[str, Any], data_dir: Path) -> Any:
    messages: list[tuple[Any, ...]] = []
    spec = TaskSpec(
        run_id=str(uuid.uuid4()),
        job_id="job-1",
        task_id="task-1",
        task_order=1,
        extractor_config=extractor,
        loader_config=loader,
        data_dir=str(data_dir),
    )
    return run_task(spec, _Reporter(messages.append), lambda: False)


def test_a_symlink_swapped_in_after_saving_is_refused_at_run_time(tmp_path: Path) -> None:
    # Saved while `in.csv` and `out/` were ordinary; by run time both point outside.
    data_dir, outside = tmp_path / "data", tmp_path / "outside"
    data_dir.mkdir()
    outside.mkdir()
    (outside / "secret.csv").write_text("password\nhunter2\n")
    os.symlink(outside / "secret.csv", data_dir / "in.csv")
    os.symlink(outside, data_dir / "out")
    generate = {"type": "generate", "rows": 3}
    cases = [
        ({"type": "csv", "path": "in.csv"}, {"type": "null"}),
        ({"type": "sql", "url": "sqlite:///in.csv", "table": "t"}, {"type": "null"}),
        (generate, {"type": "csv", "path": "out/x.csv"}),
        (generate, {"type": "jsonl", "path": "out/x.jsonl"}),
        (generate, {"type": "parquet", "path": "out/x.parquet"}),
        (generate, {"type": "sqlite", "path": "out/x.db", "table": "t"}),
    ]
    for extractor, loader in cases:
        result = _run_task(extractor, loader, data_dir)
        assert result.status == "failed", (extractor, loader)
        assert "outside the data directory" in (result.error_message or ""), result.error_message
        assert "hunter2" not in (result.error_message or "")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.csv"], "nothing written outside"


# --- the service's own settings are not plugin secrets -------------------------------------------


def test_configs_may_not_reference_the_services_own_settings(admin: Api, user: Api) -> None:
    """An `http` extractor aimed at `https://example.net/?k=${env:ORC_SECRET_KEY}` would hand
    the token key (and with it every account) to that server: refused when saved, by anyone."""
    evil = [
        (
            "extractor_config.url",
            {"type": "http", "url": "https://example.net/?k=${env:ORC_SECRET_KEY}"},
        ),
        (
            "extractor_config.headers.X",
            {
                "type": "http",
                "url": "https://example.net/",
                "headers": {"X": "${env:orc_admin_password}"},
            },
        ),
        ("loader_config.url", "${env:DATABASE_URL}"),
    ]
    for field, config in evil:
        if field.startswith("loader_config"):
            task = {
                "task_order": 1,
                "extractor_config": {"type": "generate", "rows": 1},
                "loader_config": {"type": "postgres", "url": config, "table": "t"},
            }
        else:
            task = {"task_order": 1, "extractor_config": config, "loader_config": {"type": "null"}}
        for caller in (user, admin):
            response = caller.post("/api/v1/jobs", json=job_body("leak", tasks=[task]))
            assert response.status_code == 422, response.text
            assert response.json()["field"] == f"tasks[0].{field}"
            assert "setting of the service itself" in response.json()["detail"]
    assert admin.get("/api/v1/jobs").json() == [], "nothing was stored"

    # Adding or changing a task is checked the same way.
    job = admin.post("/api/v1/jobs", json=job_body("fine")).json()
    tasks_url = f"/api/v1/jobs/{job['job_id']}/tasks"
    task_id = job["tasks"][0]["task_id"]
    leaky = {"type": "http", "url": "https://example.net/${env:ORC_DATABASE_URL}"}
    added = user.post(
        tasks_url,
        json={"task_order": 2, "extractor_config": leaky, "loader_config": {"type": "null"}},
    )
    assert (added.status_code, added.json()["field"]) == (422, "extractor_config.url")
    changed = user.patch(f"{tasks_url}/{task_id}", json={"extractor_config": leaky})
    assert (changed.status_code, changed.json()["field"]) == (422, "extractor_config.url")
    # A variable of its own is fine, even one whose name merely begins with ORC.
    own = {"type": "http", "url": "https://example.net/${env:ORCHARD_API_PATH}"}
    ok = user.patch(f"{tasks_url}/{task_id}", json={"extractor_config": own})
    assert ok.status_code == 200, ok.text


def test_a_stored_reference_to_a_service_setting_fails_at_run_time(tmp_path: Path) -> None:
    """A job saved before the check existed: the executor refuses it, naming no value."""
    spec = TaskSpec(
        run_id=str(uuid.uuid4()),
        job_id="job-1",
        task_id="task-1",
        task_order=1,
        extractor_config={"type": "generate", "rows": 1},
        loader_config={"type": "csv", "path": "${env:ORC_SECRET_KEY}.csv"},
        data_dir=str(tmp_path),
        environ={"ORC_SECRET_KEY": "the-signing-key-itself"},
    )
    result = run_task(spec, _Reporter(lambda message: None), lambda: False)
    assert result.status == "failed"
    assert "setting of the service itself" in (result.error_message or "")
    assert "the-signing-key-itself" not in (result.error_message or "")
    assert list(tmp_path.iterdir()) == [], "nothing written"


# --- SQL identifiers ---------------------------------------------------------------------------

EVIL_IDENTIFIERS = [
    "t; DROP TABLE users",
    'x"y',
    "users--",
    "a.b.c",
    "1abc",
    "",
    "a b",
    "t\x00",
    '"public"."t"',
    "x" * 64,
]


def identifier_options() -> list[tuple[str, dict[str, Any], str, bool]]:
    """(config side, valid config, option naming a table or column, whether it is a list)."""
    pg = {"type": "postgres", "url": PG_URL, "table": "t", "mode": "merge", "key": ["id"]}
    sqlite = {"type": "sqlite", "path": "x.db", "table": "t", "mode": "merge", "key": ["id"]}
    sql = {"type": "sql", "url": PG_URL, "table": "t", "cursor_column": "id"}
    return [
        ("extractor_config", sql, "table", False),
        ("extractor_config", sql, "cursor_column", False),
        ("loader_config", pg, "table", False),
        ("loader_config", pg, "key", True),
        ("loader_config", sqlite, "table", False),
        ("loader_config", sqlite, "key", True),
    ]


def test_every_identifier_option_refuses_injection(
    data_app: tuple[Api, Path], subtests: pytest.Subtests
) -> None:
    api, _ = data_app
    for side, config, option, is_list in identifier_options():
        with subtests.test(plugin=config["type"], option=option, value="valid"):
            response = api.post(
                "/api/v1/jobs",
                json=job_body(f"ok{uuid.uuid4().hex[:6]}", tasks=[_task(side, config)]),
            )
            assert response.status_code == 201, response.text
        for evil in EVIL_IDENTIFIERS:
            if config["type"] == "postgres" and option == "table" and evil == '"public"."t"':
                continue
            with subtests.test(plugin=config["type"], option=option, value=evil):
                bad = {**config, option: [evil] if is_list else evil}
                response = api.post(
                    "/api/v1/jobs",
                    json=job_body(f"j{uuid.uuid4().hex[:6]}", tasks=[_task(side, bad)]),
                )
                assert response.status_code == 422, response.text
                where = f"tasks[0].{side}.{option}"
                if "\x00" in evil:
                    # Refused before any plugin sees it; the message points inside the list.
                    assert response.json()["field"] == "tasks"
                    assert where.removeprefix("tasks") in response.json()["detail"]
                else:
                    assert response.json()["field"].startswith(where)
    assert api.get("/api/v1/jobs").headers["x-total-count"] == str(len(identifier_options()))


EVIL_COLUMNS = ["id", 'x"; DROP TABLE victim; --', "a'b", "Mixed Case", "sp ace"]


def test_column_names_from_options_and_data_are_quoted_not_spliced(tmp_path: Path) -> None:
    """Column names come from `column_names`, a CSV header or a source table: any text at all.

    They reach CREATE TABLE, INSERT / COPY and merge SQL quoted, so a name that is an attack
    is just an odd column, and the table next to it survives.
    """
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "rows.csv").write_text("1,a\n2,b\n")
    (data_dir / "header.csv").write_text('id,"x""; DROP TABLE victim; --"\n1,a\n2,b\n')
    db = data_dir / "dest.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE victim (v integer)")
    names = ["id", EVIL_COLUMNS[1]]
    by_option = {"type": "csv", "path": "rows.csv", "header": False, "column_names": names}
    by_header = {"type": "csv", "path": "header.csv"}
    for extractor in (by_option, by_header):
        for mode in ("append", "merge", "replace"):
            loader = {"type": "sqlite", "path": "dest.db", "table": "t", "mode": mode}
            if mode == "merge":
                loader["key"] = ["id"]
            result = _run_task(extractor, loader, data_dir)
            assert result.status == "success", result.error_message
    # The sqlite source then feeds the same names back out through the sql extractor.
    copied = _run_task(
        {"type": "sql", "url": "sqlite:///dest.db", "table": "t"},
        {"type": "sqlite", "path": "copy.db", "table": "t"},
        data_dir,
    )
    assert copied.status == "success", copied.error_message
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        columns = [r[1] for r in conn.execute('PRAGMA table_info("t")')]
    assert "victim" in tables
    assert columns == names


@pytest.fixture(scope="module")
def pg_dest() -> Iterator[str]:
    url = create_postgres_database(postgres_server_url(), "orc_security")
    yield url
    drop_postgres_database(url)


def test_column_names_are_quoted_in_postgres_too(pg_dest: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "rows.csv").write_text("1,a,x,y,z\n2,b,x,y,z\n")
    engine = sa.create_engine(parse_database_url(pg_dest).sync_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS victim (v integer)"))
    extractor = {"type": "csv", "path": "rows.csv", "header": False, "column_names": EVIL_COLUMNS}
    for mode in ("append", "merge", "replace"):
        loader: dict[str, Any] = {"type": "postgres", "url": pg_dest, "table": "evil", "mode": mode}
        if mode == "merge":
            loader["key"] = ["id"]
        result = _run_task(extractor, loader, data_dir)
        assert result.status == "success", result.error_message
    copied = _run_task(
        {"type": "sql", "url": pg_dest, "table": "evil", "cursor_column": "id"},
        {"type": "postgres", "url": pg_dest, "table": "evil_copy"},
        data_dir,
    )
    assert copied.status == "success", copied.error_message
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT to_regclass('victim')")).scalar() is not None
        columns = conn.execute(
            sa.text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'evil' ORDER BY ordinal_position"
            )
        ).scalars()
        assert list(columns) == EVIL_COLUMNS
    engine.dispose()


# --- secrets -----------------------------------------------------------------------------------

ENV_PASSWORD = "env-pw-3f9a1c"  # the secrets the test hunts for
URL_PASSWORD = "url-pw-8d2e4b"
BAD_ENV_PASSWORD = "bad-env-pw-51c7"
BAD_URL_PASSWORD = "bad-url-pw-92ad"
SECRETS = (ENV_PASSWORD, URL_PASSWORD, BAD_ENV_PASSWORD, BAD_URL_PASSWORD)


def _with_password(url: str, password: str, database: str | None = None) -> str:
    parsed = parse_database_url(url).sync_url.set(password=password)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False).replace("+psycopg", "")


def _assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked in {where}"


def test_secrets_never_show_in_responses_pages_logs_or_errors(
    clean_database: str,
    pg_dest: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The test server trusts local connections, so a URL carrying any password still connects:
    # the run succeeds with the secret in play.
    monkeypatch.setenv("SEC_TEST_DEST_URL", _with_password(pg_dest, ENV_PASSWORD))
    monkeypatch.setenv("SEC_TEST_BAD_URL", _with_password(pg_dest, BAD_ENV_PASSWORD, "no_such_db"))
    literal_ok = _with_password(pg_dest, URL_PASSWORD)
    literal_bad = _with_password(pg_dest, BAD_URL_PASSWORD, "no_such_db")
    ok_tasks = [
        {
            "task_order": 1,
            "extractor_config": {"type": "generate", "rows": 5},
            "loader_config": {"type": "postgres", "url": "${env:SEC_TEST_DEST_URL}", "table": "s"},
        },
        {
            "task_order": 2,
            "extractor_config": {"type": "sql", "url": literal_ok, "table": "s"},
            "loader_config": {"type": "null"},
        },
    ]
    bad_tasks = [
        {
            "task_order": 1,
            "extractor_config": {"type": "sql", "url": literal_bad, "query": "SELECT 1"},
            "loader_config": {"type": "null"},
        }
    ]
    bad_env_tasks = [
        {
            "task_order": 1,
            "extractor_config": {"type": "generate", "rows": 1},
            "loader_config": {"type": "postgres", "url": "${env:SEC_TEST_BAD_URL}", "table": "s"},
        }
    ]
    settings = make_settings(clean_database, data_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        create_user(client, "admin", ADMIN_PASSWORD, is_admin=True)
        api = Api(client, login(client, "admin", ADMIN_PASSWORD))
        seen: list[tuple[str, str]] = []

        def call(method: str, url: str, **kw: Any) -> httpx.Response:
            response = client.request(method, url, headers=api.headers, **kw)
            seen.append((f"{method} {url} -> {response.status_code}", response.text))
            return response

        runs: dict[str, str] = {}
        for name, tasks in (("ok", ok_tasks), ("bad", bad_tasks), ("bad-env", bad_env_tasks)):
            job = call("POST", "/api/v1/jobs", json=job_body(name, tasks=tasks))
            assert job.status_code == 201, job.text
            run = call("POST", f"/api/v1/jobs/{job.json()['job_id']}/runs")
            runs[name] = run.json()["run_id"]
        # Refused configs must not echo what they were sent either.
        for bad_config in (
            {"type": "postgres", "url": literal_bad.replace("postgresql", "mysql"), "table": "t"},
            {"type": "postgres", "url": literal_bad, "table": "no such table"},
            {"type": "postgres", "url": literal_bad, "table": "t", "colour": URL_PASSWORD},
        ):
            task = {**bad_env_tasks[0], "loader_config": bad_config}
            refused = call("POST", "/api/v1/jobs", json=job_body("refused", tasks=[task]))
            assert refused.status_code == 422, refused.text

        async def scenario(db: Database) -> None:
            for run_id in runs.values():
                await wait_for(db, uuid.UUID(run_id), {"success", "failed"}, 60)

        with_engine(clean_database, scenario)

        details = {
            name: call("GET", f"/api/v1/runs/{run_id}").json() for name, run_id in runs.items()
        }
        assert details["ok"]["status"] == "success", details["ok"]["error_message"]
        assert details["bad"]["status"] == "failed"
        assert details["bad-env"]["status"] == "failed"
        assert "no_such_db" in details["bad"]["error_message"], "the failure is still explained"
        for run_id in runs.values():
            call("GET", f"/api/v1/runs/{run_id}/logs")
        for url in ("/api/v1/jobs", "/api/v1/runs", "/metrics", "/api/v1/plugins"):
            call("GET", url)
        for job in call("GET", "/api/v1/jobs").json():
            call("GET", f"/api/v1/jobs/{job['job_id']}")
            call("GET", f"/api/v1/jobs/{job['job_id']}/tasks")
            call("GET", f"/api/v1/jobs/{job['job_id']}/runs")
        logged_in(client)
        for page in ["/", "/runs", *(f"/runs/{r}" for r in runs.values())]:
            response = client.get(page)
            seen.append((f"page {page}", response.text))
        for job in call("GET", "/api/v1/jobs").json():
            seen.append(("job page", client.get(f"/jobs/{job['job_id']}").text))

    for where, text in seen:
        _assert_no_secret(where, text)
    out, err = capfd.readouterr()
    lines = (out + err).splitlines()
    assert any("request" in line for line in lines), "the access log was captured"
    for line in lines:
        _assert_no_secret("a log line", line)
