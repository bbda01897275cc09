"""JSON responses serialised once, by the response model's own pydantic core.

A route that returns models pays twice: it builds them, then FastAPI validates the returned
value against `response_model` again before it serialises it. For a returned `Response`
FastAPI does neither, while the decorator's `response_model=` still describes the route in the
OpenAPI document. On a 50-run page the two passes and the per-row model building were about a
fifth of the api's CPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

from fastapi import Response
from pydantic import TypeAdapter

T = TypeVar("T")


class JsonBody(Generic[T]):
    """Validates data (records as dicts, or models) as `shape` and renders it as JSON."""

    def __init__(self, shape: type[T]) -> None:
        self._adapter = TypeAdapter(shape)

    def response(
        self,
        data: object,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        # The same serializer, with the same options, that FastAPI's response_model uses.
        value = self._adapter.validate_python(data, from_attributes=True)
        return Response(
            self._adapter.dump_json(value, by_alias=True),
            status_code=status_code,
            headers=headers,
            media_type="application/json",
        )
