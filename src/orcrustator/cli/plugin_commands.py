"""`orc plugins list`: the extractors and loaders a server knows, with their options."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from orcrustator.cli._common import console
from orcrustator.cli.output import print_json
from orcrustator.cli.remote import Api

app = typer.Typer(help="Extractor and loader plugins.", no_args_is_help=True)


def _options(schema: dict[str, Any]) -> str:
    required = set(schema.get("required", []))
    names = [n for n in schema.get("properties", {}) if n != "type"]
    return ", ".join(f"{n}{'*' if n in required else ''}" for n in names)


@app.command("list")
def list_plugins(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (with full schemas)")] = False,
) -> None:
    """Every plugin with its options (* = required)."""
    with Api() as api:
        plugins = api.get("/plugins")
    if as_json:
        print_json(plugins)
        return
    table = Table("kind", "name", "options", "description")
    for kind in ("extractors", "loaders"):
        for plugin in plugins[kind]:
            table.add_row(
                kind[:-1], plugin["name"], _options(plugin["config_schema"]), plugin["description"]
            )
    console.print(table)
    for broken in plugins.get("broken", []):
        console.print(f"[red]broken {broken['kind']} {broken['name']}: {broken['error']}[/]")
