"""What every command needs: settings, a console, and a database for one async call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.exc import OperationalError

from orcrustator.db.engine import Database
from orcrustator.db.urls import DatabaseUrl, parse_database_url
from orcrustator.errors import OrcError
from orcrustator.settings import Settings, load_settings

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise fail(f"bad configuration: {where}: {first['msg']}") from exc


def database_url_or_exit(settings: Settings) -> DatabaseUrl:
    try:
        return parse_database_url(settings.database_url)
    except OrcError as exc:
        raise fail(exc.message) from exc


@contextmanager
def reachable(db: DatabaseUrl) -> Iterator[None]:
    """Turn "the database does not answer" into a one-line error and exit code 1."""
    try:
        yield
    except OperationalError as exc:
        raise fail(f"cannot reach {db.display()}: {exc.orig}") from exc


def run_with_database(settings: Settings, action: Callable[[Database], Awaitable[T]]) -> T:
    """Open the database, run one async action against it, close it."""

    async def _main() -> T:
        db = Database(database_url_or_exit(settings), pool_size=2)
        try:
            return await action(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(_main())
    except OrcError as exc:
        raise fail(exc.message) from exc
