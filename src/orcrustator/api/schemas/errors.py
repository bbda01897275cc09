"""The one error shape every failure is answered with, for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    field: str | None = Field(description="where, e.g. tasks[0].loader_config.table")
    message: str


class ErrorBody(BaseModel):
    detail: str = Field(description="a human message naming the field or the reason")
    code: str = Field(description="machine-readable: validation_error, not_found, conflict, …")
    field: str | None = None
    errors: list[FieldError] = Field(default_factory=list)
    request_id: str | None = Field(default=None, description="also in the X-Request-ID header")


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries documenting these statuses with the error shape."""
    descriptions = {
        401: "missing, invalid or expired token",
        403: "not allowed for this user",
        404: "no such resource",
        409: "conflicts with what is stored",
        422: "invalid input; `field` names it",
        429: "too many failed logins; see Retry-After",
    }
    return {code: {"model": ErrorBody, "description": descriptions[code]} for code in codes}
