"""`orc db create|upgrade|downgrade|current`."""

from __future__ import annotations

from typing import Annotated

import typer

from orcrustator.cli._common import console, database_url_or_exit, reachable, settings_or_exit
from orcrustator.db import migrate

app = typer.Typer(help="Create and migrate the database.", no_args_is_help=True)


@app.command()
def create() -> None:
    """Create the database named by DATABASE_URL if it does not exist."""
    db = database_url_or_exit(settings_or_exit())
    with reachable(db):
        created = migrate.create_database(db)
    console.print(f"{'created' if created else 'already exists'}: {db.display()}")


@app.command()
def upgrade(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    db = database_url_or_exit(settings_or_exit())
    with reachable(db):
        migrate.upgrade(db, revision)
        console.print(f"{db.display()} is at revision {migrate.current_revision(db)}")


@app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="target revision, or -1 for one step")] = "-1",
) -> None:
    """Undo migrations down to REVISION (default: one step)."""
    db = database_url_or_exit(settings_or_exit())
    with reachable(db):
        migrate.downgrade(db, revision)
        console.print(f"{db.display()} is at revision {migrate.current_revision(db) or 'base'}")


@app.command()
def current() -> None:
    """Show the database's revision and the latest one this version ships."""
    db = database_url_or_exit(settings_or_exit())
    with reachable(db):
        revision = migrate.current_revision(db)
    head = migrate.head_revision(db)
    state = "up to date" if revision == head else "behind: run `orc db upgrade`"
    console.print(f"current: {revision or 'none'}  head: {head}  ({state})")
