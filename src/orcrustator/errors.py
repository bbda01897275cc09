"""One error root for the whole service.

Every error carries a human message; `Transient` vs `Terminal` decides retry vs fail in the
engine, and only the API layer maps these classes to HTTP statuses.
"""

from __future__ import annotations


class OrcError(Exception):
    """Root of every error this package raises on purpose."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Transient(OrcError):
    """Worth retrying: the cause may go away (network blip, lock timeout, database restart)."""


class Terminal(OrcError):
    """Not worth retrying: the same input will fail the same way."""


class NotFound(Terminal):
    """The thing named does not exist (or the caller may not know that it does)."""


class Conflict(Terminal):
    """The request clashes with what is stored (a duplicate name or order)."""


class InvalidInput(Terminal):
    """Input that fails validation; `field` names where."""


class AuthError(OrcError):
    """Missing or bad credentials."""


class Forbidden(OrcError):
    """Authenticated, but not allowed."""


class TooManyAttempts(OrcError):
    """Too many failed logins; `retry_after` seconds until the next try is accepted."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
