"""The extractors and loaders this installation knows, with their options' JSON Schemas."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel

from orcrustator.api.deps import CurrentUser
from orcrustator.plugins import registry

router = APIRouter(prefix="/plugins", tags=["plugins"])


class PluginInfo(BaseModel):
    name: str
    kind: Literal["extractor", "loader"]
    description: str
    config_schema: dict[str, Any]


class BrokenPluginInfo(BaseModel):
    name: str
    kind: str
    error: str


class PluginList(BaseModel):
    extractors: list[PluginInfo]
    loaders: list[PluginInfo]
    broken: list[BrokenPluginInfo]


@router.get("", response_model=PluginList)
async def list_plugins(_user: CurrentUser) -> PluginList:
    infos = [
        PluginInfo(
            name=spec.name,
            kind=spec.kind,
            description=spec.description,
            config_schema=registry.json_schema(spec),
        )
        for spec in registry.list_specs()
    ]
    return PluginList(
        extractors=[i for i in infos if i.kind == "extractor"],
        loaders=[i for i in infos if i.kind == "loader"],
        broken=[
            BrokenPluginInfo(name=b.name, kind=b.kind, error=b.error)
            for b in registry.broken_plugins()
        ],
    )
