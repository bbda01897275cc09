"""Find plugins through entry points, and validate a task's configs against them.

Built-ins register exactly like third-party plugins (see `pyproject.toml`). The entry points are
read once and cached; an entry point that fails to import, or points at something that is not a
`PluginSpec` of the right kind, is logged and listed by `broken_plugins()` but never hides the
others.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import structlog
from pydantic import ValidationError

from orcrustator.errors import InvalidInput
from orcrustator.plugins.base import PLUGIN_KINDS, AnySpec, PluginConfig, PluginKind, PluginSpec

log = structlog.get_logger("orcrustator.plugins")

ENTRY_POINT_GROUPS: dict[PluginKind, str] = {
    "extractor": "orcrustator.extractors",
    "loader": "orcrustator.loaders",
}


@dataclass(frozen=True)
class BrokenPlugin:
    kind: PluginKind
    name: str
    target: str
    error: str


@dataclass
class _Registry:
    specs: dict[PluginKind, dict[str, AnySpec]] = field(default_factory=dict)
    broken: list[BrokenPlugin] = field(default_factory=list)


def _load_one(kind: PluginKind, name: str, loaded: object) -> AnySpec:
    if not isinstance(loaded, PluginSpec):
        raise TypeError(f"points at {type(loaded).__name__}, not a PluginSpec")
    if loaded.kind != kind:
        raise TypeError(f"is registered as an {kind} but its spec says {loaded.kind}")
    if loaded.name != name:
        raise TypeError(f"is registered as '{name}' but its spec is named '{loaded.name}'")
    if not (
        isinstance(loaded.config_model, type) and issubclass(loaded.config_model, PluginConfig)
    ):
        raise TypeError("has a config_model that does not subclass PluginConfig")
    return loaded


@functools.cache
def _registry() -> _Registry:
    registry = _Registry()
    for kind in PLUGIN_KINDS:
        found: dict[str, AnySpec] = {}
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUPS[kind]), key=lambda e: e.name):
            try:
                if ep.name in found:
                    raise TypeError(f"duplicates the {kind} '{ep.name}' already registered")
                found[ep.name] = _load_one(kind, ep.name, ep.load())
            except Exception as exc:  # a broken third-party plugin must not break the others
                broken = BrokenPlugin(kind, ep.name, ep.value, f"{type(exc).__name__}: {exc}")
                registry.broken.append(broken)
                log.warning(
                    "plugin_broken", kind=kind, name=ep.name, target=ep.value, error=broken.error
                )
        registry.specs[kind] = found
    return registry


def reload() -> None:
    """Forget the cached entry points (after installing a plugin into a running process)."""
    _registry.cache_clear()


def list_specs() -> list[AnySpec]:
    """Every working plugin, extractors first, each kind sorted by name."""
    registry = _registry()
    return [spec for kind in PLUGIN_KINDS for spec in registry.specs[kind].values()]


def broken_plugins() -> list[BrokenPlugin]:
    return list(_registry().broken)


def known_names(kind: PluginKind) -> list[str]:
    return sorted(_registry().specs[kind])


def get_spec(kind: PluginKind, name: str) -> AnySpec:
    spec = _registry().specs[kind].get(name)
    if spec is None:
        known = ", ".join(known_names(kind)) or "none"
        raise InvalidInput(f"unknown {kind} type '{name}'; known: {known}", field="type")
    return spec


def validate_config(
    kind: PluginKind, config: Mapping[str, Any], *, context: Mapping[str, Any] | None = None
) -> PluginConfig:
    """The config as the plugin's model, or `InvalidInput` naming the offending option."""
    if not isinstance(config, Mapping):
        raise InvalidInput(f"{kind} config must be an object with a 'type'", field="type")
    name = config.get("type")
    if not isinstance(name, str) or not name:
        known = ", ".join(known_names(kind)) or "none"
        raise InvalidInput(f"{kind} config needs a 'type'; known: {known}", field="type")
    spec = get_spec(kind, name)
    try:
        model: PluginConfig = spec.config_model.model_validate(
            dict(config), context=dict(context or {})
        )
    except ValidationError as exc:
        raise _invalid_input(exc) from None
    return model


def _invalid_input(exc: ValidationError) -> InvalidInput:
    problems = []
    first_field: str | None = None
    for error in exc.errors(include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        path = ".".join(str(part) for part in error["loc"])
        if not path:  # a rule about the options together (e.g. "query or table")
            problems.append(message)
            continue
        first_field = first_field or path
        problems.append(f"{path}: {message}")
    return InvalidInput("; ".join(problems), field=first_field)


def json_schema(spec: AnySpec) -> dict[str, Any]:
    """The JSON Schema of a plugin's options, with its name and description."""
    schema: dict[str, Any] = spec.config_model.model_json_schema()
    schema["title"] = spec.name
    schema["description"] = spec.description
    return schema
