"""Users: who am I, and (admins only) create, list and delete accounts."""

from __future__ import annotations

import uuid
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query, Response, status

from orcrustator.api.deps import AdminUser, CurrentUser, ServicesDep
from orcrustator.api.json_response import JsonBody
from orcrustator.api.schemas.errors import error_responses
from orcrustator.api.schemas.users import UserCreate, UserPublic
from orcrustator.auth.passwords import hash_password
from orcrustator.db.repo import users as users_repo
from orcrustator.errors import Conflict

router = APIRouter(prefix="/users", tags=["users"])

_USER = JsonBody(UserPublic)
_USERS = JsonBody(list[UserPublic])


@router.get("/me", response_model=UserPublic)
async def me(user: CurrentUser) -> Response:
    return _USER.response(user)


@router.post(
    "",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
)
async def create_user(body: UserCreate, services: ServicesDep, _admin: AdminUser) -> UserPublic:
    password_hash = await to_thread.run_sync(hash_password, body.password)
    async with services.db.write() as conn:
        record = await users_repo.create(
            conn, username=body.username, password_hash=password_hash, is_admin=body.is_admin
        )
    return UserPublic.model_validate(record)


@router.get("", response_model=list[UserPublic])
async def list_users(
    services: ServicesDep,
    _admin: AdminUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    async with services.db.read() as conn:
        records = await users_repo.list_all(conn, limit=limit, offset=offset)
    return _USERS.response(records)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(409))
async def delete_user(user_id: uuid.UUID, services: ServicesDep, admin: AdminUser) -> None:
    if user_id == admin.user_id:
        raise Conflict("you cannot delete your own account")
    async with services.db.write() as conn:
        target = await users_repo.get(conn, user_id)
        if target["is_admin"] and await users_repo.count_admins(conn) <= 1:
            raise Conflict("cannot delete the last admin")
        await users_repo.delete(conn, user_id)
    services.tokens.forget_user(user_id)
