"""Extractor and loader plugins: the interfaces (`base`), discovery (`registry`), built-ins."""

from orcrustator.plugins.base import (
    Extractor,
    Loader,
    LoadResult,
    PluginConfig,
    PluginError,
    PluginKind,
    PluginSpec,
    RunContext,
    TaskCancelled,
    TransientPluginError,
)

__all__ = [
    "Extractor",
    "LoadResult",
    "Loader",
    "PluginConfig",
    "PluginError",
    "PluginKind",
    "PluginSpec",
    "RunContext",
    "TaskCancelled",
    "TransientPluginError",
]
