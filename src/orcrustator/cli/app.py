"""The typer application: one sub-command group per concern."""

from __future__ import annotations

import typer

from orcrustator.cli import (
    db_commands,
    job_commands,
    login_command,
    plugin_commands,
    run_commands,
    serve,
    user_commands,
)

app = typer.Typer(
    name="orc",
    help="orc-rust-ator: schedule and run data pipelines.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.command()(serve.up)
app.command()(serve.api)
app.command()(serve.scheduler)
app.command()(serve.worker)
app.add_typer(db_commands.app, name="db")
app.add_typer(user_commands.app, name="users")
app.command()(login_command.login)
app.add_typer(job_commands.app, name="jobs")
app.add_typer(run_commands.app, name="runs")
app.add_typer(plugin_commands.app, name="plugins")
