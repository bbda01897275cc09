"""One JSON error shape for every failure, and the mapping from our errors to HTTP statuses.

Shape: `{"detail": <human message>, "code": <machine code>, "field": <where, or null>,
"errors": [{"field", "message"}...], "request_id": <id>}`. `detail` is a string, as FastAPI
clients expect; the rest lets scripts react without parsing prose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from orcrustator.auth.tokens import verify_token
from orcrustator.errors import (
    AuthError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    OrcError,
    TooManyAttempts,
)

log = structlog.get_logger("orcrustator.api")

# FastAPI's message when it cannot decode a body at all (bad UTF-8, a broken multipart form).
_FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    field: str | None = None,
    errors: Sequence[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "detail": message,
        "code": _STATUS_CODES.get(status, "error"),
        "field": field,
        "errors": list(errors)
        if errors
        else ([{"field": field, "message": message}] if field else []),
        "request_id": request_id_of(request),
    }
    return JSONResponse(body, status_code=status, headers=headers)


def field_path(loc: Sequence[str | int]) -> str:
    """`("body", "tasks", 0, "loader_config", "table")` → `tasks[0].loader_config.table`."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:]
    if parts and all(isinstance(p, int) for p in parts):
        return "body"  # e.g. a JSON syntax error at a character offset
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "body"


def _clean(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _unauthenticated(request: Request) -> bool:
    """True for a protected route called without a valid token.

    FastAPI parses a JSON body before it runs the route's dependencies, so a malformed body
    would otherwise answer 422 ahead of the missing token's 401 and tell an anonymous caller
    more than "log in first".
    """
    path = request.url.path
    if not path.startswith("/api/v1/") or path == "/api/v1/auth/token":
        return False
    services = getattr(request.app.state, "services", None)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if services is None or scheme.lower() != "bearer" or not token:
        return True
    try:
        verify_token(services.token_key, token)
    except AuthError:
        return True
    return False


def _not_authenticated(request: Request) -> JSONResponse:
    return error_response(
        request,
        401,
        "not authenticated: send 'Authorization: Bearer <token>'",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if _unauthenticated(request):
        return _not_authenticated(request)
    errors = []
    for err in exc.errors():
        path = field_path(err.get("loc", ()))
        if err.get("type") == "missing":
            message = "is required"
        elif err.get("type") == "extra_forbidden":
            message = "is not a known field"
        elif err.get("type") == "json_invalid":
            message = "the request body is not valid JSON"
        else:
            message = _clean(str(err.get("msg", "is invalid")))
        errors.append({"field": path, "message": message})
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    summary = f"{first['field']}: {first['message']}"
    if len(errors) > 1:
        summary += f" (and {len(errors) - 1} more)"
    return error_response(request, 422, summary, field=first["field"], errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 400 and message == _FASTAPI_BODY_PARSE_ERROR:
        # A body that is not UTF-8 JSON or not a well-formed form: the same 422 as any other
        # unreadable body (and still a 401 first for a caller without a token).
        if _unauthenticated(request):
            return _not_authenticated(request)
        return error_response(
            request,
            422,
            "body: the request body cannot be parsed (not UTF-8 JSON, or a malformed form)",
            field="body",
        )
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route for {request.method} {request.url.path}"
    return error_response(request, exc.status_code, message, headers=exc.headers)


async def _orc_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OrcError)
    headers: Mapping[str, str] | None = None
    if isinstance(exc, AuthError):
        status, headers = 401, {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, Forbidden):
        status = 403
    elif isinstance(exc, TooManyAttempts):
        status, headers = 429, {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, Conflict):
        status = 409
    elif isinstance(exc, InvalidInput):
        status = 422
    else:
        status = 400
    field = exc.field
    message = exc.message.removeprefix(f"{field}: ") if field else exc.message
    detail = f"{field}: {message}" if field else message
    errors = [{"field": field, "message": message}] if field else []
    return error_response(request, status, detail, field=field, errors=errors, headers=headers)


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    # A value that passed validation but that the database cannot store (the backends differ
    # in what they accept): the client's input, so a 422 that says so, never a 500.
    assert isinstance(exc, DBAPIError)
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "invalid value"
    return error_response(request, 422, f"the database cannot store a value sent: {reason}")


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unhandled error",
        request_id=request_id_of(request),
        method=request.method,
        path=request.url.path,
        exc_info=exc,
    )
    return error_response(request, 500, "internal error; quote the request_id when reporting it")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OrcError, _orc_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(Exception, _unexpected_error)
