"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from orcrustator import __version__
from orcrustator.api.deps import Services, current_user
from orcrustator.api.errors import install_error_handlers
from orcrustator.api.middleware import RequestContextMiddleware
from orcrustator.api.openapi import install_openapi
from orcrustator.api.routes import auth, health, jobs, metrics, plugins, runs, tasks, users
from orcrustator.api.schemas.errors import error_responses
from orcrustator.auth.throttle import LoginThrottle
from orcrustator.db.engine import Database
from orcrustator.db.repo import secrets as secrets_repo
from orcrustator.db.urls import parse_database_url
from orcrustator.settings import Settings
from orcrustator.ui import mount_dashboard

API_PREFIX = "/api/v1"


async def _token_key(settings: Settings, db: Database) -> str:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    async with db.write() as conn:
        return await secrets_repo.get_or_create(conn, secrets_repo.TOKEN_KEY_NAME)


def create_app(settings: Settings, *, database: Database | None = None) -> FastAPI:
    """Build the app. With `database` given the caller owns it; otherwise the app does."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or Database(
            parse_database_url(settings.database_url), pool_size=settings.db_pool_size
        )
        try:
            app.state.services = Services(
                settings=settings,
                db=db,
                token_key=await _token_key(settings, db),
                throttle=LoginThrottle(settings.login_max_failures, settings.login_window_seconds),
            )
            yield
        finally:
            if database is None:
                await db.dispose()

    app = FastAPI(
        title="orc-rust-ator",
        version=__version__,
        description="A data-pipeline orchestrator: cron-scheduled extractor → loader jobs.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            # A browser client reads the list total and the request id only when exposed.
            expose_headers=[
                "X-Total-Count",
                "X-Next-Cursor",
                "Link",
                "X-Request-ID",
                "Retry-After",
            ],
            # Bearer tokens, not cookies: the dashboard's session never travels cross-origin.
            allow_credentials=False,
        )
    app.add_middleware(RequestContextMiddleware)

    app.include_router(health.router)
    app.include_router(metrics.router)
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(auth.router, responses=error_responses(422, 429))
    protected = [Depends(current_user)]
    for module in (users, jobs, tasks, runs, plugins):
        api.include_router(
            module.router, dependencies=protected, responses=error_responses(401, 403, 404)
        )
    app.include_router(api)
    install_openapi(app)
    mount_dashboard(app)  # the web dashboard at `/`

    return app
