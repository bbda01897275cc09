"""An app per test on a clean database, driven in-process through its real ASGI stack."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from orcrustator.api.app import create_app
from orcrustator.api.deps import Services
from orcrustator.auth.passwords import hash_password
from orcrustator.db.repo import users as users_repo
from orcrustator.settings import Settings

ADMIN_PASSWORD = "admin-password-for-tests"
USER_PASSWORD = "user-password-for-tests"


@dataclass
class Api:
    """A test client plus the bearer header of one logged-in user."""

    client: TestClient
    headers: dict[str, str]

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.client.get(url, headers=self.headers, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.client.post(url, headers=self.headers, **kw)

    def patch(self, url: str, **kw: Any) -> httpx.Response:
        return self.client.patch(url, headers=self.headers, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.client.delete(url, headers=self.headers, **kw)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    return Settings(database_url=database_url, _env_file=None, **overrides)  # type: ignore[call-arg]


@pytest.fixture
def settings(clean_database: str) -> Settings:
    return make_settings(clean_database)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def create_user(client: TestClient, username: str, password: str, *, is_admin: bool) -> None:
    services: Services = client.app.state.services  # type: ignore[attr-defined]

    async def _create() -> None:
        async with services.db.write() as conn:
            await users_repo.create(
                conn, username=username, password_hash=hash_password(password), is_admin=is_admin
            )

    client.portal.call(_create)  # type: ignore[union-attr]


def login(client: TestClient, username: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def admin(client: TestClient) -> Api:
    create_user(client, "admin", ADMIN_PASSWORD, is_admin=True)
    return Api(client, login(client, "admin", ADMIN_PASSWORD))


@pytest.fixture
def user(client: TestClient, admin: Api) -> Api:
    create_user(client, "alice", USER_PASSWORD, is_admin=False)
    return Api(client, login(client, "alice", USER_PASSWORD))


def job_body(name: str = "nightly", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "job_name": name,
        "schedule": "0 2 * * *",
        "tasks": [
            {
                "task_order": 1,
                "extractor_config": {"type": "generate", "rows": 10},
                "loader_config": {"type": "null"},
            }
        ],
    }
    body.update(overrides)
    return body
