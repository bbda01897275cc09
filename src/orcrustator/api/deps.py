"""FastAPI dependencies, as `Annotated` aliases the routes declare."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from orcrustator.api.schemas.users import UserPublic
from orcrustator.api.totals import TotalCounts
from orcrustator.api.verified_tokens import VerifiedTokens
from orcrustator.auth.throttle import LoginThrottle
from orcrustator.auth.tokens import verify_token
from orcrustator.db.engine import Database
from orcrustator.db.repo import users as users_repo
from orcrustator.errors import AuthError, Forbidden, NotFound
from orcrustator.settings import Settings

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a route, not a secret


@dataclass
class Services:
    """What a request handler may use; built once by the app's lifespan."""

    settings: Settings
    db: Database
    token_key: str
    throttle: LoginThrottle
    totals: TotalCounts = field(default_factory=TotalCounts)
    tokens: VerifiedTokens = field(default_factory=VerifiedTokens)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    # `async` on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread
    # hand-off on every request for one attribute read.
    return services_of(request)


ServicesDep = Annotated[Services, Depends(get_services)]


class BearerUser(OAuth2PasswordBearer):
    """The user a request's bearer token belongs to, as one dependency.

    Resolving the token and the user here, rather than through `Depends(services)` and
    `Depends(OAuth2PasswordBearer)` sub-dependencies, spares FastAPI two dependency solves on
    every authenticated request (a tenth of a list request's CPU went to solving); being an
    `OAuth2PasswordBearer`, it still declares the OAuth2 scheme in the OpenAPI document.
    """

    async def __call__(self, request: Request) -> UserPublic:  # type: ignore[override]
        token = await super().__call__(request)
        if not token:
            raise AuthError("not authenticated: send 'Authorization: Bearer <token>'")
        services = services_of(request)
        known = services.tokens.user_for(token)
        if known is not None:
            return known
        claims = verify_token(services.token_key, token)
        try:
            async with services.db.read() as conn:
                record = await users_repo.get(conn, claims.user_id)
        except NotFound as exc:
            raise AuthError("the token's user no longer exists") from exc
        user = UserPublic.model_validate(record)
        services.tokens.remember(token, user, claims.expires_at)
        return user


# The scheme keeps the name it had as a plain OAuth2PasswordBearer: clients generated from the
# OpenAPI document refer to it.
current_user = BearerUser(tokenUrl=TOKEN_URL, scheme_name="OAuth2PasswordBearer", auto_error=False)


CurrentUser = Annotated[UserPublic, Depends(current_user)]


async def admin_user(user: CurrentUser) -> UserPublic:
    if not user.is_admin:
        raise Forbidden("this needs an admin account")
    return user


AdminUser = Annotated[UserPublic, Depends(admin_user)]
