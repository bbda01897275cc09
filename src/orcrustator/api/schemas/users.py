"""Users and tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from orcrustator.api.schemas._base import RequestModel, ResponseModel
from orcrustator.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,254}$"


class UserCreate(RequestModel):
    # Passwords are taken exactly as typed: login compares the unstripped form value.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    username: str = Field(
        min_length=1,
        max_length=255,
        pattern=USERNAME_PATTERN,
        description="letters, digits and . _ @ -, starting with a letter or digit",
    )
    password: str = Field(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        description=f"at least {MIN_PASSWORD_LENGTH} characters",
    )
    is_admin: bool = False

    @field_validator("password", mode="before")
    @classmethod
    def _explain_short_password(cls, value: object) -> object:
        if isinstance(value, str) and len(value) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters long")
        return value


class UserPublic(ResponseModel):
    user_id: uuid.UUID
    username: str
    is_admin: bool
    created_at: datetime
    updated_at: datetime


class Token(ResponseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="seconds until the token expires")
