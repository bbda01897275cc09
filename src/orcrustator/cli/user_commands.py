"""`orc users create|list`: manage accounts directly in the database."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from orcrustator.auth.passwords import check_password_policy, hash_password
from orcrustator.cli._common import console, fail, run_with_database, settings_or_exit
from orcrustator.db.engine import Database
from orcrustator.db.repo import users as users_repo
from orcrustator.db.repo._rows import Record
from orcrustator.errors import InvalidInput

app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)


@app.command()
def create(
    username: Annotated[str, typer.Argument(help="the new user's name")],
    admin: Annotated[bool, typer.Option("--admin", help="may manage users")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Create a user; asks for the password unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_password_policy(password)
    except InvalidInput as exc:
        raise fail(exc.message) from exc
    password_hash = hash_password(password)

    async def _create(db: Database) -> Record:
        async with db.write() as conn:
            return await users_repo.create(
                conn, username=username, password_hash=password_hash, is_admin=admin
            )

    user = run_with_database(settings_or_exit(), _create)
    role = "admin" if user["is_admin"] else "user"
    console.print(f"created {role} [bold]{user['username']}[/] ({user['user_id']})")


@app.command("list")
def list_users() -> None:
    """List every user."""

    async def _list(db: Database) -> list[Record]:
        async with db.read() as conn:
            return await users_repo.list_all(conn, limit=100_000, offset=0)

    table = Table("username", "admin", "user_id", "created_at")
    for user in run_with_database(settings_or_exit(), _list):
        table.add_row(
            user["username"],
            "yes" if user["is_admin"] else "",
            str(user["user_id"]),
            user["created_at"].isoformat(timespec="seconds"),
        )
    console.print(table)
