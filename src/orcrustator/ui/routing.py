"""The dashboard's route class and dependencies: sessions, CSRF, and errors as designed pages.

`UIRoute` catches what a page handler (or one of its dependencies) raises and answers with an
HTML page instead of the API's JSON error: no session → redirect to the login form, unknown or
malformed ids → 404, not an admin → 403, a bad CSRF token → 403. Every answer gets the security
headers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from orcrustator.api.deps import Services, ServicesDep, services_of
from orcrustator.auth.tokens import verify_token
from orcrustator.db.repo import users as users_repo
from orcrustator.errors import (
    AuthError,
    Conflict,
    Forbidden,
    NotFound,
    OrcError,
    TooManyAttempts,
)
from orcrustator.ui.rendering import Session, render
from orcrustator.ui.security import (
    CSRF_FIELD,
    FLASH_COOKIE,
    FLASH_SECONDS,
    SESSION_COOKIE,
    CsrfError,
    LoginRequired,
    apply_security_headers,
    clear_cookie,
    csrf_token,
    read_flash,
    set_cookie,
    sign_flash,
    tokens_match,
)

log = structlog.get_logger("orcrustator.ui")

_TITLES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "You do not have access to this page."),
    404: (
        "Page not found",
        "There is nothing here. It may have been deleted, or the link is wrong.",
    ),
    405: ("Method not allowed", "This page cannot be used that way."),
    409: ("Conflict", "That change clashes with the current state."),
    429: ("Slow down", "Too many attempts. Wait a moment and try again."),
    500: ("Something went wrong", "An unexpected error occurred. It has been logged."),
}


def error_page(
    request: Request,
    status_code: int,
    message: str | None = None,
    *,
    session: Session | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    title, default = _TITLES.get(status_code, ("Error", "The request failed."))
    response = render(
        request,
        "error.html",
        {
            "status_code": status_code,
            "title": title,
            "message": message or default,
            "request_id": getattr(request.state, "request_id", None),
        },
        session=session or getattr(request.state, "ui_session", None),
        status_code=status_code,
    )
    response.headers.update(headers or {})
    return response


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or target.startswith("/login"):
        target = "/"  # a POST cannot be replayed after logging in
    target = target.removesuffix("/live")  # a polled fragment: come back to its page
    response = RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
    if SESSION_COOKIE in request.cookies:
        clear_cookie(response, request, SESSION_COOKIE)
    return apply_security_headers(response)


def _page_for(request: Request, exc: Exception) -> Response:
    if isinstance(exc, LoginRequired | AuthError):
        return login_redirect(request)
    if isinstance(exc, CsrfError):
        return error_page(request, 403, exc.message)
    if isinstance(exc, Forbidden):
        return error_page(request, 403, exc.message)
    if isinstance(exc, NotFound):
        return error_page(request, 404, exc.message)
    if isinstance(exc, TooManyAttempts):
        return error_page(request, 429, exc.message, headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, Conflict):
        return error_page(request, 409, exc.message)
    if isinstance(exc, OrcError):  # InvalidInput and the rest: the request was at fault
        return error_page(request, 400, exc.message)
    if isinstance(exc, RequestValidationError):
        # Path parameters are ids: a malformed one names nothing, so it is a 404.
        in_path = any(err.get("loc", ("",))[0] == "path" for err in exc.errors())
        return error_page(request, 404 if in_path else 400)
    if isinstance(exc, HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else None
        return error_page(request, exc.status_code, detail)
    log.error("unhandled dashboard error", path=request.url.path, exc_info=exc)
    return error_page(request, 500)


class UIRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except Exception as exc:  # every failure becomes a designed page
                return _page_for(request, exc)
            return apply_security_headers(response)

        return page_handler


async def _load_session(request: Request, services: Services) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        claims = verify_token(services.token_key, token)
        async with services.db.read() as conn:
            user = await users_repo.get(conn, claims.user_id)
    except (AuthError, NotFound):
        return None
    return Session(token=token, user=user, csrf=csrf_token(services.token_key, token))


async def optional_session(request: Request, services: ServicesDep) -> Session | None:
    session = await _load_session(request, services)
    request.state.ui_session = session
    return session


async def require_session(
    session: Annotated[Session | None, Depends(optional_session)],
) -> Session:
    if session is None:
        raise LoginRequired("log in to see this page")
    return session


SessionDep = Annotated[Session, Depends(require_session)]
OptionalSessionDep = Annotated[Session | None, Depends(optional_session)]


async def require_admin(session: SessionDep) -> Session:
    if not session.is_admin:
        raise Forbidden("Only administrators can manage users.")
    return session


AdminSessionDep = Annotated[Session, Depends(require_admin)]


async def check_csrf(request: Request, session: SessionDep) -> None:
    form = await request.form()
    if not tokens_match(session.csrf, form.get(CSRF_FIELD)):
        raise CsrfError(
            "This form has expired or did not come from this site. Go back, reload the page "
            "and try again."
        )


CsrfChecked = [Depends(check_csrf)]


def page(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    session: Session | None,
    status_code: int = 200,
) -> Response:
    """Render a page, showing (once) the message a previous redirect left in the flash cookie."""
    cookie = request.cookies.get(FLASH_COOKIE)
    flash = read_flash(services_of(request).token_key, cookie)
    response = render(request, name, context, session=session, status_code=status_code, flash=flash)
    if cookie is not None:
        clear_cookie(response, request, FLASH_COOKIE)
    return response


def redirect(request: Request, url: str, flash: str | None = None) -> Response:
    """A 303 See Other (POST → redirect → GET), optionally carrying a one-time message."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        token_key = services_of(request).token_key
        set_cookie(
            response, request, FLASH_COOKIE, sign_flash(token_key, flash), max_age=FLASH_SECONDS
        )
    return apply_security_headers(response)


def parse_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("There is no such page.") from None
