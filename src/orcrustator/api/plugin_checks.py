"""Check task configs against the plugins' own models when a job or task is saved."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orcrustator.errors import InvalidInput
from orcrustator.plugins import registry, secrets
from orcrustator.plugins.base import PluginKind
from orcrustator.plugins.paths import DATA_DIR_CONTEXT_KEY


def check_task_configs(
    *,
    extractor_config: Mapping[str, Any] | None,
    loader_config: Mapping[str, Any] | None,
    data_dir: Path,
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
        reserved = secrets.service_setting_reference(config)
        if reserved is not None:
            where, name = reserved
            raise secrets.service_setting_error(f"{prefix}{key}.{where}", name)
        try:
            registry.validate_config(kind, config, context={DATA_DIR_CONTEXT_KEY: data_dir})
        except InvalidInput as exc:
            inner = exc.field
            field = f"{prefix}{key}.{inner}" if inner else f"{prefix}{key}"
            detail = exc.message
            if inner and detail.startswith(f"{inner}: "):
                detail = detail[len(inner) + 2 :]
            raise InvalidInput(f"{field}: {detail}", field=field) from None
