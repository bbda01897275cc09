"""Log in: username and password for a signed, expiring bearer token."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from orcrustator.api.deps import ServicesDep
from orcrustator.api.schemas.users import Token
from orcrustator.auth.passwords import verify_password
from orcrustator.auth.tokens import issue_token
from orcrustator.db.repo import users as users_repo
from orcrustator.errors import AuthError

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/token",
    response_model=Token,
    responses={
        401: {"description": "wrong username or password"},
        429: {"description": "throttled"},
    },
)
async def login(
    request: Request,
    services: ServicesDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    address = request.client.host if request.client else "unknown"
    services.throttle.check(form.username, address)
    user = None
    if "\x00" not in form.username:  # no stored name holds NUL, and PostgreSQL rejects it
        async with services.db.read() as conn:
            user = await users_repo.find_by_username(conn, form.username)
    stored_hash = None if user is None else str(user["password_hash"])
    # Argon2 is deliberately slow: keep it off the event loop.
    ok = await to_thread.run_sync(verify_password, form.password, stored_hash)
    if not ok or user is None:
        services.throttle.record_failure(form.username, address)
        raise AuthError("wrong username or password")
    services.throttle.record_success(form.username)
    ttl = services.settings.token_ttl_seconds
    return Token(access_token=issue_token(services.token_key, user["user_id"], ttl), expires_in=ttl)
