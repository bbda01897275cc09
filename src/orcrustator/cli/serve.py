"""`orc up`, `orc api`, `orc scheduler`, `orc worker`: the long-running processes."""

from __future__ import annotations

import asyncio
import gc
from typing import Annotated

import typer
import uvloop
from rich.panel import Panel

from orcrustator.cli._common import (
    console,
    database_url_or_exit,
    fail,
    reachable,
    run_with_database,
    settings_or_exit,
)
from orcrustator.cli.bootstrap import ADMIN_USERNAME, ensure_admin
from orcrustator.db import migrate
from orcrustator.logging import configure_logging
from orcrustator.settings import Settings

YOUNG_GC_THRESHOLD = 50_000

HostOption = Annotated[str | None, typer.Option(help="address to listen on [default: ORC_HOST]")]
PortOption = Annotated[int | None, typer.Option(help="port to listen on [default: ORC_PORT]")]
ConcurrencyOption = Annotated[
    int | None,
    typer.Option(min=1, max=256, help="runs executed at once [default: ORC_WORKER_CONCURRENCY]"),
]


def _run(settings: Settings, *, api: bool, scheduler: bool, worker: bool) -> None:
    # Imported here so that `orc --help` and the db commands start fast.
    from orcrustator.api.app import create_app
    from orcrustator.db.engine import Database
    from orcrustator.runtime import Component, api_component, run_components
    from orcrustator.scheduler.service import Scheduler
    from orcrustator.worker.service import Worker

    configure_logging(settings.log_level, json=settings.log_json)
    db_url = database_url_or_exit(settings)
    if not api and settings.metrics_port:
        from prometheus_client import start_http_server

        from orcrustator.metrics import REGISTRY

        # Without an api in this process, the worker's or scheduler's own counters go here.
        start_http_server(settings.metrics_port, addr=settings.host, registry=REGISTRY)

    async def main() -> None:
        # A worker writes through its dispatch loop, its heartbeat and, while draining, one
        # more writer, however many runs it executes.
        pool_size = settings.db_pool_size + (3 if worker else 0)
        db = Database(db_url, pool_size=pool_size)
        components: list[Component] = []
        if api:
            components.append(api_component(create_app(settings, database=db), settings))
        if scheduler:
            components.append(Scheduler(db, settings).run)
        if worker:
            components.append(Worker(db, settings, concurrency=settings.worker_concurrency).run)
        # Everything made so far (modules, the app, its routes and schemas) lives as long as
        # the process: out of the garbage collector's sight, its full passes walk only what
        # requests and runs create, instead of pausing every request in flight for all of it.
        gc.freeze()
        # A young-generation pass every 50,000 net new container objects, not 700: with 50
        # requests in flight their live rows, dicts and models crossed 700 all the time, so
        # passes ran every few requests, scanned those objects and promoted them to be scanned
        # again (in process, 50 concurrent clients: 0.125 ms of a 1.1 ms list request, pauses up
        # to 13 ms). What refcounting frees never counts; cyclic garbage still triggers a pass
        # once 50,000 of it piles up, so memory stays bounded.
        gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])
        try:
            await run_components(components)
        finally:
            await db.dispose()

    # uvloop: the event loop's own cost per request and per database round trip is a fraction of
    # asyncio's selector loop (its epoll calls were a tenth of the api's CPU under load).
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def _with_overrides(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={k: v for k, v in changes.items() if v is not None})


def _require_migrated(settings: Settings) -> None:
    db_url = database_url_or_exit(settings)
    with reachable(db_url):
        current, head = migrate.current_revision(db_url), migrate.head_revision(db_url)
    if current != head:
        raise fail(
            f"the database is at revision {current or 'none'}, not {head}: run `orc db upgrade`"
        )


def _bootstrap_admin(settings: Settings) -> None:
    generated = run_with_database(settings, lambda db: ensure_admin(settings, db))
    if generated:
        console.print(
            Panel(
                f"username: [bold]{ADMIN_USERNAME}[/]\npassword: [bold]{generated}[/]\n\n"
                "Shown once. Set ORC_ADMIN_PASSWORD before the first start to choose it.",
                title="first start: admin account created",
            )
        )


def up(
    host: HostOption = None, port: PortOption = None, concurrency: ConcurrencyOption = None
) -> None:
    """Everything on one machine: migrate, create the first admin, serve the API, schedule and
    run jobs, all in this process."""
    settings = _with_overrides(
        settings_or_exit(), host=host, port=port, worker_concurrency=concurrency
    )
    db_url = database_url_or_exit(settings)
    with reachable(db_url):
        migrate.create_database(db_url)
        migrate.upgrade(db_url)
    _bootstrap_admin(settings)
    console.print(
        f"orc-rust-ator on http://{settings.host}:{settings.port}  ({db_url.display()}, "
        f"{settings.worker_concurrency} worker slots)"
    )
    _run(settings, api=True, scheduler=True, worker=True)


def api(host: HostOption = None, port: PortOption = None) -> None:
    """Serve the REST API only (many machines; run `orc db upgrade` first). On an empty users
    table it creates `admin` as `orc up` does."""
    settings = _with_overrides(settings_or_exit(), host=host, port=port)
    _require_migrated(settings)
    _bootstrap_admin(settings)
    _run(settings, api=True, scheduler=False, worker=False)


def scheduler() -> None:
    """Turn cron slots into queued runs and reap runs of lost workers (any number may run)."""
    settings = settings_or_exit()
    _require_migrated(settings)
    _run(settings, api=False, scheduler=True, worker=False)


def worker(concurrency: ConcurrencyOption = None) -> None:
    """Claim queued runs and execute them (any number may run, on any host)."""
    settings = _with_overrides(settings_or_exit(), worker_concurrency=concurrency)
    _require_migrated(settings)
    _run(settings, api=False, scheduler=False, worker=True)
