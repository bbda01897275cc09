"""Check task configs against the plugins' own models when a job or task is saved."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orcrustator.errors import InvalidInput
from orcrustator.plugins import registry
from orcrustator.plugins.base import PluginKind


def check_task_configs(
    *,
    extractor_config: Mapping[str, Any] | None,
    loader_config: Mapping[str, Any] | None,
    prefix: str = "",
) -> None:
    """Raise InvalidInput whose field is the full path, e.g. `tasks[0].loader_config.table`."""
    checks: tuple[tuple[PluginKind, str, Mapping[str, Any] | None], ...] = (
        ("extractor", "extractor_config", extractor_config),
        ("loader", "loader_config", loader_config),
    )
    for kind, key, config in checks:
        if config is None:
            continue
        try:
            registry.validate_config(kind, config)
        except InvalidInput as exc:
            inner = exc.field or "type"
            field = f"{prefix}{key}.{inner}"
            detail = exc.message
            if detail.startswith(f"{inner}: "):
                detail = detail[len(inner) + 2 :]
            raise InvalidInput(f"{field}: {detail}", field=field) from None
