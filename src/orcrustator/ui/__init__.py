"""The web dashboard: server-rendered pages over the same repositories as the API.

`mount_dashboard(app)` adds the pages and their static files to the API's app. Everything a page
needs (CSS, the small polling script, the icon) is served from `ui/static`, so the dashboard
works with no internet access and under a `'self'`-only Content-Security-Policy.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from orcrustator.ui.rendering import STATIC_DIR, STATIC_PREFIX
from orcrustator.ui.routes import auth, fallback, jobs, runs, users
from orcrustator.ui.security import SECURITY_HEADERS

STATIC_MAX_AGE = 7 * 86_400  # URLs carry a content hash, so a week is safe


class _StaticWithHeaders:
    """Static files with the dashboard's security headers and a long cache lifetime."""

    def __init__(self) -> None:
        self.files = StaticFiles(directory=STATIC_DIR)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if message["status"] == 200:
                    headers.append((b"cache-control", f"public, max-age={STATIC_MAX_AGE}".encode()))
                message["headers"] = headers
            await send(message)

        await self.files(scope, receive, send_with_headers)


def mount_dashboard(app: FastAPI) -> None:
    for module in (auth, jobs, runs, users):
        app.include_router(module.router)
    app.include_router(fallback.router)  # last: it catches what the pages above do not
    app.mount(STATIC_PREFIX, _StaticWithHeaders(), name="static")
