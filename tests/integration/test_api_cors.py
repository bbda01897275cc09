"""CORS: closed unless ORC_CORS_ORIGINS names origins, and then open to exactly those."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from orcrustator.api.app import create_app
from orcrustator.settings import Settings
from tests.integration.conftest import ADMIN_PASSWORD, create_user, login

ALLOWED = "https://dashboard.example.com"
ALSO_ALLOWED = "http://localhost:3000"
STRANGER = "https://evil.example.net"


def preflight(client: TestClient, origin: str, path: str = "/api/v1/jobs") -> httpx.Response:
    response: httpx.Response = client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    return response


def assert_closed(response: httpx.Response) -> None:
    cors = {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}
    assert not cors, cors


@pytest.fixture
def closed(clean_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.delenv("ORC_CORS_ORIGINS", raising=False)
    settings = Settings(database_url=clean_database, _env_file=None)  # type: ignore[call-arg]
    assert settings.cors_origins == []
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def configured(clean_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    # Through the real variable, so a renamed setting fails here; the trailing slash is how
    # people paste origins, and must still match what browsers send.
    monkeypatch.setenv("ORC_CORS_ORIGINS", f'["{ALLOWED}/", "{ALSO_ALLOWED}"]')
    settings = Settings(database_url=clean_database, _env_file=None)  # type: ignore[call-arg]
    assert settings.cors_origins == [ALLOWED, ALSO_ALLOWED]
    with TestClient(create_app(settings)) as client:
        yield client


def test_by_default_no_origin_is_allowed(closed: TestClient) -> None:
    create_user(closed, "admin", ADMIN_PASSWORD, is_admin=True)
    headers = login(closed, "admin", ADMIN_PASSWORD)
    for origin in (STRANGER, ALLOWED, "null"):
        assert_closed(preflight(closed, origin))
        assert_closed(preflight(closed, origin, "/api/v1/auth/token"))
        simple = closed.get("/api/v1/jobs", headers={**headers, "Origin": origin})
        assert simple.status_code == 200
        assert_closed(simple)
        assert_closed(closed.get("/health", headers={"Origin": origin}))
        assert_closed(closed.get("/login", headers={"Origin": origin}))


def test_configured_origins_are_allowed_exactly(configured: TestClient) -> None:
    create_user(configured, "admin", ADMIN_PASSWORD, is_admin=True)
    headers = login(configured, "admin", ADMIN_PASSWORD)
    for origin in (ALLOWED, ALSO_ALLOWED):
        response = preflight(configured, origin)
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == origin
        methods = set(response.headers["access-control-allow-methods"].replace(" ", "").split(","))
        assert {"GET", "POST", "PATCH", "DELETE"} <= methods
        allowed_headers = response.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed_headers
        assert "content-type" in allowed_headers
        assert "access-control-allow-credentials" not in response.headers

        simple = configured.get("/api/v1/jobs", headers={**headers, "Origin": origin})
        assert simple.status_code == 200
        assert simple.headers["access-control-allow-origin"] == origin
        assert "access-control-allow-credentials" not in simple.headers
        exposed = simple.headers["access-control-expose-headers"].lower()
        assert "x-total-count" in exposed, "a browser client needs the list total"
        assert {"x-next-cursor", "link"} <= {h.strip() for h in exposed.split(",")}, exposed
        assert "vary" in simple.headers and "origin" in simple.headers["vary"].lower()


@pytest.mark.parametrize(
    "origin",
    [
        STRANGER,
        "null",
        ALLOWED.replace("https://", "http://"),  # another scheme is another origin
        f"{ALLOWED}:8443",  # another port too
        f"https://sub.{ALLOWED.removeprefix('https://')}",
        f"{ALLOWED}.evil.example.net",  # a prefix match would let this in
    ],
)
def test_other_origins_stay_refused_when_some_are_configured(
    configured: TestClient, origin: str
) -> None:
    create_user(configured, "admin", ADMIN_PASSWORD, is_admin=True)
    headers = login(configured, "admin", ADMIN_PASSWORD)
    response = preflight(configured, origin)
    assert response.status_code >= 400
    assert "access-control-allow-origin" not in response.headers
    simple = configured.get("/api/v1/jobs", headers={**headers, "Origin": origin})
    assert "access-control-allow-origin" not in simple.headers


def test_a_preflight_asking_for_cookies_gets_no_credentials(configured: TestClient) -> None:
    response = configured.options(
        "/api/v1/jobs",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "GET",
            "Cookie": "orc_session=stolen",
        },
    )
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "access-control-allow-credentials" not in response.headers
