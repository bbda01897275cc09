"""Log in with a username and password, log out."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Form, Query, Request
from starlette.responses import Response

from orcrustator.api.deps import ServicesDep
from orcrustator.auth.passwords import verify_password
from orcrustator.auth.tokens import issue_token
from orcrustator.db.repo import users as users_repo
from orcrustator.errors import TooManyAttempts
from orcrustator.ui.routing import CsrfChecked, OptionalSessionDep, UIRoute, page, redirect
from orcrustator.ui.security import (
    LOGIN_COOKIE,
    LOGIN_COOKIE_SECONDS,
    SESSION_COOKIE,
    CsrfError,
    clear_cookie,
    login_csrf_token,
    new_nonce,
    safe_next,
    set_cookie,
    tokens_match,
)

router = APIRouter(route_class=UIRoute, include_in_schema=False)

MAX_FIELD = 1024


def _login_form(
    request: Request,
    services: ServicesDep,
    *,
    next_url: str,
    username: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    nonce = request.cookies.get(LOGIN_COOKIE) or new_nonce()
    response = page(
        request,
        "login.html",
        {
            "next_url": next_url,
            "username": username,
            "error": error,
            "login_csrf": login_csrf_token(services.token_key, nonce),
        },
        session=None,
        status_code=status_code,
    )
    set_cookie(response, request, LOGIN_COOKIE, nonce, max_age=LOGIN_COOKIE_SECONDS, path="/login")
    return response


@router.get("/login")
async def login_page(
    request: Request,
    services: ServicesDep,
    session: OptionalSessionDep,
    next_url: Annotated[str | None, Query(alias="next")] = None,
) -> Response:
    target = safe_next(next_url)
    if session is not None:
        return redirect(request, target)
    return _login_form(request, services, next_url=target)


@router.post("/login")
async def login(
    request: Request,
    services: ServicesDep,
    username: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    password: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=MAX_FIELD)] = "/",
) -> Response:
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not nonce or not tokens_match(login_csrf_token(services.token_key, nonce), csrf_token):
        raise CsrfError(
            "The login form expired or did not come from this site. Reload it and try again."
        )
    target = safe_next(next_url)
    address = request.client.host if request.client else "unknown"
    try:
        services.throttle.check(username, address)
    except TooManyAttempts as exc:
        response = _login_form(
            request,
            services,
            next_url=target,
            username=username,
            error=f"Too many failed logins. Try again in {exc.retry_after} s.",
            status_code=429,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    user = None
    if username and "\x00" not in username:
        async with services.db.read() as conn:
            user = await users_repo.find_by_username(conn, username)
    stored_hash = None if user is None else str(user["password_hash"])
    ok = await to_thread.run_sync(verify_password, password, stored_hash)
    if not ok or user is None:
        services.throttle.record_failure(username, address)
        return _login_form(
            request,
            services,
            next_url=target,
            username=username,
            error="Wrong username or password.",
            status_code=401,
        )
    services.throttle.record_success(username)
    ttl = services.settings.token_ttl_seconds
    response = redirect(request, target)
    set_cookie(
        response,
        request,
        SESSION_COOKIE,
        issue_token(services.token_key, user["user_id"], ttl),
        max_age=ttl,
    )
    clear_cookie(response, request, LOGIN_COOKIE, path="/login")
    return response


@router.get("/logout")
async def logout_link(request: Request) -> Response:
    # Logging out changes state, so it takes a POST with a CSRF token (the top bar's button);
    # a plain link here just goes home rather than answering "method not allowed".
    return redirect(request, "/")


@router.post("/logout", dependencies=CsrfChecked)
async def logout(request: Request) -> Response:
    response = redirect(request, "/login", flash="You have been logged out.")
    clear_cookie(response, request, SESSION_COOKIE)
    return response
