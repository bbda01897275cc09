"""The CLI's view of a running server: where it is, the stored token, and HTTP calls.

`orc login` stores a token per server URL in `~/.config/orc-rust-ator/tokens.json` (mode 0600);
`ORC_URL` picks the server (default http://127.0.0.1:8080) and `ORC_TOKEN` overrides the stored
token, for scripts and CI.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx

from orcrustator.cli._common import fail

DEFAULT_URL = "http://127.0.0.1:8080"


def server_url() -> str:
    return os.environ.get("ORC_URL", DEFAULT_URL).rstrip("/")


def _tokens_file() -> Path:
    base = os.environ.get("ORC_CONFIG_DIR") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"), "orc-rust-ator"
    )
    return Path(base) / "tokens.json"


def _read_tokens() -> dict[str, str]:
    path = _tokens_file()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def save_token(url: str, token: str) -> Path:
    path = _tokens_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tokens = {**_read_tokens(), url: token}
    # Created with 0600 from the start: the token is a password for its lifetime.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(tokens, out, indent=2)
    return path


def stored_token(url: str) -> str | None:
    return os.environ.get("ORC_TOKEN") or _read_tokens().get(url)


class Api:
    """A thin client: turns the API's error shape into a clear CLI error and exit code."""

    def __init__(self, url: str | None = None, *, token: str | None = None) -> None:
        self.url = url or server_url()
        headers = {}
        bearer = token or stored_token(self.url)
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        self._client = httpx.Client(base_url=self.url, headers=headers, timeout=30.0)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self._client.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, f"/api/v1{path}", **kwargs)
        except httpx.TransportError as exc:
            raise fail(
                f"cannot reach {self.url}: {exc} (is the server running? set ORC_URL)"
            ) from None
        if response.status_code == 401:
            raise fail(f"not logged in to {self.url} (or the token expired): run `orc login`")
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise fail(f"{response.status_code}: {detail}")
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def login(self, username: str, password: str) -> dict[str, Any]:
        try:
            response = self._client.post(
                "/api/v1/auth/token", data={"username": username, "password": password}
            )
        except httpx.TransportError as exc:
            raise fail(f"cannot reach {self.url}: {exc}") from None
        if response.status_code != 200:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise fail(f"login failed: {detail}")
        data: dict[str, Any] = response.json()
        return data

    def find_job(self, name_or_id: str) -> dict[str, Any]:
        """A job by id, or by its unique name."""
        try:
            uuid.UUID(name_or_id)
        except ValueError:
            return self._find_job_by_name(name_or_id)
        found: dict[str, Any] = self.get(f"/jobs/{name_or_id}")
        return found

    def _find_job_by_name(self, name: str) -> dict[str, Any]:
        offset = 0
        while True:
            page = self.get("/jobs", limit=1000, offset=offset)
            for job in page:
                if job["job_name"] == name:
                    return dict(job)
            if len(page) < 1000:
                raise fail(f"no job named '{name}'")
            offset += 1000
