"""The `orc` command line."""

from __future__ import annotations

from orcrustator.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
