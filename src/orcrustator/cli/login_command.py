"""`orc login`: get a token from the server and keep it for the next commands."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from orcrustator.cli._common import console
from orcrustator.cli.remote import Api, save_token, server_url


def login(
    username: Annotated[str, typer.Option("--username", "-u", prompt=True)],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Log in to the server at ORC_URL and store the token (~/.config/orc-rust-ator)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True)
    url = server_url()
    with Api(url) as api:
        token = api.login(username, password)
    path = save_token(url, token["access_token"])
    minutes = int(token["expires_in"]) // 60
    console.print(f"logged in to {url} as {username} (token valid {minutes} min, kept in {path})")
