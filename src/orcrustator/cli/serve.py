"""`orc up` and `orc api`: serve the service."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel
from sqlalchemy.exc import OperationalError

from orcrustator.cli._common import (
    console,
    database_url_or_exit,
    fail,
    run_with_database,
    settings_or_exit,
)
from orcrustator.cli.bootstrap import ADMIN_USERNAME, ensure_admin
from orcrustator.db import migrate
from orcrustator.logging import configure_logging
from orcrustator.settings import Settings

HostOption = Annotated[str | None, typer.Option(help="address to listen on [default: ORC_HOST]")]
PortOption = Annotated[int | None, typer.Option(help="port to listen on [default: ORC_PORT]")]


def _serve(settings: Settings) -> None:
    # Imported here so that `orc --help` and the db commands start fast.
    from orcrustator import runtime
    from orcrustator.api.app import create_app

    configure_logging(settings.log_level, json=settings.log_json)
    runtime.serve(create_app(settings), settings)


def up(
    host: HostOption = None,
    port: PortOption = None,
    concurrency: Annotated[int, typer.Option(min=1, help="workers in this process")] = 4,
) -> None:
    """Everything on one machine: migrate, create the first admin, serve the API."""
    settings = settings_or_exit()
    settings = settings.model_copy(
        update={"host": host or settings.host, "port": port or settings.port}
    )
    del concurrency  # the engine (scheduler and workers) joins this command in a later release
    db_url = database_url_or_exit(settings)
    try:
        migrate.create_database(db_url)
        migrate.upgrade(db_url)
    except OperationalError as exc:
        raise fail(f"cannot reach {db_url.display()}: {exc.orig}") from exc
    generated = run_with_database(settings, lambda db: ensure_admin(settings, db))
    if generated:
        console.print(
            Panel(
                f"username: [bold]{ADMIN_USERNAME}[/]\npassword: [bold]{generated}[/]\n\n"
                "Shown once. Set ORC_ADMIN_PASSWORD before the first start to choose it.",
                title="first start: admin account created",
            )
        )
    console.print(f"orc-rust-ator on http://{settings.host}:{settings.port}  ({db_url.display()})")
    _serve(settings)


def api(host: HostOption = None, port: PortOption = None) -> None:
    """Serve the REST API only (for many-machine set-ups; run `orc db upgrade` first)."""
    settings = settings_or_exit()
    settings = settings.model_copy(
        update={"host": host or settings.host, "port": port or settings.port}
    )
    db_url = database_url_or_exit(settings)
    try:
        current, head = migrate.current_revision(db_url), migrate.head_revision(db_url)
    except OperationalError as exc:
        raise fail(f"cannot reach {db_url.display()}: {exc.orig}") from exc
    if current != head:
        raise fail(
            f"the database is at revision {current or 'none'}, not {head}: run `orc db upgrade`"
        )
    _serve(settings)
