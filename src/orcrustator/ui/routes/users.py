"""Users (administrators only): list, create, delete, with the API's rules."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import Response

from orcrustator.api.deps import ServicesDep
from orcrustator.api.schemas.users import UserCreate
from orcrustator.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from orcrustator.db.repo import users as users_repo
from orcrustator.errors import Conflict
from orcrustator.ui.rendering import Session
from orcrustator.ui.routing import AdminSessionDep, CsrfChecked, UIRoute, page, parse_id, redirect

router = APIRouter(route_class=UIRoute, include_in_schema=False)

MAX_USERS_SHOWN = 1000
MAX_FIELD = 2048


async def _users_page(
    request: Request,
    services: ServicesDep,
    session: Session,
    *,
    error: str | None = None,
    form: dict[str, object] | None = None,
    status_code: int = 200,
) -> Response:
    async with services.db.read() as conn:
        users = await users_repo.list_all(conn, limit=MAX_USERS_SHOWN, offset=0)
    return page(
        request,
        "users.html",
        {
            "nav": "users",
            "users": users,
            "error": error,
            "form": form or {"username": "", "is_admin": False},
            "min_password": MIN_PASSWORD_LENGTH,
        },
        session=session,
        status_code=status_code,
    )


@router.get("/users")
async def users_page(request: Request, services: ServicesDep, session: AdminSessionDep) -> Response:
    return await _users_page(request, services, session)


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err.get("loc", ())) or "input"
    message = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
    if err.get("type") == "string_pattern_mismatch":
        message = "use letters, digits and . _ @ -, starting with a letter or digit"
    return f"{field.capitalize()}: {message}."


@router.post("/users", dependencies=CsrfChecked)
async def create_user(
    request: Request,
    services: ServicesDep,
    session: AdminSessionDep,
    username: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    password: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    is_admin: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    form = {"username": username, "is_admin": is_admin == "true"}
    try:
        body = UserCreate(username=username, password=password, is_admin=is_admin == "true")
    except ValidationError as exc:
        return await _users_page(
            request, services, session, error=_first_problem(exc), form=form, status_code=422
        )
    password_hash = await to_thread.run_sync(hash_password, body.password)
    try:
        async with services.db.write() as conn:
            await users_repo.create(
                conn, username=body.username, password_hash=password_hash, is_admin=body.is_admin
            )
    except Conflict as exc:
        return await _users_page(
            request, services, session, error=f"{exc.message}.", form=form, status_code=409
        )
    role = "administrator" if body.is_admin else "user"
    return redirect(request, "/users", flash=f"Created {role} {body.username}.")


@router.post("/users/{user_id}/delete", dependencies=CsrfChecked)
async def delete_user(
    user_id: str, request: Request, services: ServicesDep, session: AdminSessionDep
) -> Response:
    key = parse_id(user_id)
    if key == session.user["user_id"]:
        return redirect(request, "/users", flash="You cannot delete your own account.")
    async with services.db.write() as conn:
        target = await users_repo.get(conn, key)
        if target["is_admin"] and await users_repo.count_admins(conn) <= 1:
            raise Conflict("cannot delete the last admin")
        await users_repo.delete(conn, key)
    services.tokens.forget_user(key)
    return redirect(request, "/users", flash=f"Deleted user {target['username']}.")
