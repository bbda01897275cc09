"""Signed, expiring access tokens (JWT, HS256)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from orcrustator.errors import AuthError

ALGORITHM = "HS256"
ISSUER = "orc-rust-ator"


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    expires_at: datetime


def issue_token(
    key: str, user_id: uuid.UUID, ttl_seconds: int, *, now: datetime | None = None
) -> str:
    issued = now or datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "iss": ISSUER,
        "iat": issued,
        "exp": issued + timedelta(seconds=ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify_token(key: str, token: str) -> TokenClaims:
    """Decode and check signature, algorithm, issuer and expiry; raise AuthError otherwise."""
    try:
        # `algorithms` is pinned so a token claiming "none" or another algorithm is refused.
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
        user_id = uuid.UUID(str(claims["sub"]))
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token has expired; log in again") from exc
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise AuthError("invalid token") from exc
    return TokenClaims(user_id=user_id, expires_at=datetime.fromtimestamp(claims["exp"], UTC))
