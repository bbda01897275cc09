"""Shared model configuration."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


def _nul_at(value: Any, path: str = "") -> str | None:
    """Where in `value` a NUL character sits (`""` for the value itself), or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if _nul_at(key, where) is not None:
                return where
            found = _nul_at(item, where)
            if found is not None:
                return found
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _nul_at(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


class RequestModel(BaseModel):
    """Input: unknown fields are refused, so a typo is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        # PostgreSQL text and JSONB cannot hold U+0000; refuse it up front on both backends.
        where = _nul_at(value)
        if where is None:
            return value
        # The check sees a nested value (a task list, a plugin config) before its own model
        # does, so the message names the exact place inside it.
        inside = f" (at {where.removeprefix('.')})" if where else ""
        raise ValueError(f"may not contain NUL (\\u0000) characters{inside}")


class PatchModel(RequestModel):
    """PATCH input: only the fields sent change; `null` is refused for NOT NULL columns."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def _no_null_for_required_columns(cls, value: Any, info: ValidationInfo) -> Any:
        # Validators run only for fields that were sent, so None here means an explicit null.
        if value is None and info.field_name not in cls.nullable_fields:
            raise ValueError("may not be null")
        return value

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
