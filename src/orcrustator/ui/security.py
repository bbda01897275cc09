"""Dashboard sessions, CSRF tokens, safe redirects and the security headers of every page.

The session cookie holds the same signed, expiring JWT the API issues (`auth.tokens`), so one
key signs both and a deleted user's session ends with their tokens. It is `HttpOnly` (scripts
cannot read it), `SameSite=Lax` (other sites' forms do not carry it) and `Secure` over https.

CSRF: every POST form carries a hidden token that is an HMAC of the session cookie under the
service key. A page on another site can neither read the cookie nor compute the token, and the
server needs no storage to check it. Before login there is no session, so the login form's
token is bound the same way to a random pre-login cookie (this stops "login CSRF", where a
victim is silently logged in to the attacker's account).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import TypeVar
from urllib.parse import urlsplit

from fastapi import Request
from starlette.responses import Response

from orcrustator.errors import OrcError

SESSION_COOKIE = "orc_session"
LOGIN_COOKIE = "orc_login"
FLASH_COOKIE = "orc_flash"
CSRF_FIELD = "csrf_token"
LOGIN_COOKIE_SECONDS = 3600
FLASH_SECONDS = 60

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


R = TypeVar("R", bound=Response)


class LoginRequired(OrcError):
    """No valid session: the page answers with a redirect to the login form."""


class CsrfError(OrcError):
    """A POST whose CSRF token is missing or wrong."""


def apply_security_headers(response: R, *, cache: bool = False) -> R:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if not cache:
        response.headers["Cache-Control"] = "no-store"
    return response


def _mac(key: str, purpose: str, value: str) -> str:
    return hmac.new(key.encode(), f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def csrf_token(key: str, session: str) -> str:
    return _mac(key, "csrf", session)


def login_csrf_token(key: str, nonce: str) -> str:
    return _mac(key, "login-csrf", nonce)


def tokens_match(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def safe_next(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site, else `default` (no open redirects)."""
    if not target or len(target) > 2000:
        return default
    if any(ch in target for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in target):
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    *,
    max_age: int,
    path: str = "/",
    samesite: str = "lax",
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        secure=is_https(request),
        httponly=True,
        samesite=samesite,  # type: ignore[arg-type]
    )


def clear_cookie(response: Response, request: Request, name: str, *, path: str = "/") -> None:
    response.delete_cookie(name, path=path, secure=is_https(request), httponly=True, samesite="lax")


def sign_flash(key: str, message: str) -> str:
    body = base64.urlsafe_b64encode(message.encode()).decode().rstrip("=")
    return f"{body}.{_mac(key, 'flash', body)}"


def read_flash(key: str, cookie: str | None) -> str | None:
    """The message of a flash cookie we signed, or None for a missing or forged one."""
    if not cookie or "." not in cookie:
        return None
    body, _, mac = cookie.partition(".")
    if not tokens_match(_mac(key, "flash", body), mac):
        return None
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except ValueError:
        return None
