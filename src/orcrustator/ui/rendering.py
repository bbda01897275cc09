"""Jinja2 set-up, display filters, and the one function every page renders through."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from orcrustator import __version__
from orcrustator.db.repo._rows import Record
from orcrustator.ui.security import CSRF_FIELD, apply_security_headers

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_PREFIX = "/static"


@dataclass(frozen=True)
class Session:
    """A logged-in dashboard user: the cookie's token, the user, and the forms' CSRF token."""

    token: str
    user: Record
    csrf: str

    @property
    def is_admin(self) -> bool:
        return bool(self.user["is_admin"])


@cache
def static_url(name: str) -> str:
    """`/static/<name>?v=<content hash>`, so a new release is never served from a stale cache."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]
    return f"{STATIC_PREFIX}/{name}?v={digest}"


def as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_when(moment: datetime | None) -> str:
    moment = as_utc(moment)
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def format_ago(moment: datetime | None, now: datetime | None = None) -> str:
    """ "3 min ago", "in 2 h", "just now"."""
    moment = as_utc(moment)
    if moment is None:
        return "—"
    delta = ((now or datetime.now(UTC)) - moment).total_seconds()
    seconds = abs(delta)
    if seconds < 5:
        return "just now"
    if seconds < 60:
        text = f"{int(seconds)} s"
    elif seconds < 3600:
        text = f"{int(seconds // 60)} min"
    elif seconds < 86_400:
        text = f"{int(seconds // 3600)} h"
    else:
        text = f"{int(seconds // 86_400)} d"
    return f"{text} ago" if delta > 0 else f"in {text}"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    negative, seconds = seconds < 0, abs(seconds)
    if seconds < 10:
        text = f"{seconds:.2f} s"
    elif seconds < 60:
        text = f"{seconds:.1f} s"
    elif seconds < 3600:
        text = f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    else:
        text = f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    return f"−{text}" if negative else text


def format_number(value: int | float | None) -> str:
    return "—" if value is None else f"{value:,}"


def format_clock(moment: datetime | None) -> str:
    moment = as_utc(moment)
    return "" if moment is None else moment.strftime("%H:%M:%S.%f")[:-3]


def format_iso(moment: datetime | None) -> str:
    moment = as_utc(moment)
    return "" if moment is None else moment.isoformat()


def short_id(value: object) -> str:
    return str(value)[:8]


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=format_when,
        ago=format_ago,
        duration=format_duration,
        number=format_number,
        short_id=short_id,
        clock=format_clock,
        iso=format_iso,
    )
    env.globals.update(static_url=static_url, version=__version__, csrf_field=CSRF_FIELD)
    return env


def render_text(name: str, context: dict[str, Any]) -> str:
    return environment().get_template(name).render(context)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    session: Session | None = None,
    status_code: int = 200,
    flash: str | None = None,
) -> HTMLResponse:
    values: dict[str, Any] = {
        "request": request,
        "session": session,
        "user": None if session is None else session.user,
        "csrf": "" if session is None else session.csrf,
        "flash": flash,
        "nav": "",
        "now": datetime.now(UTC),
    }
    values.update(context or {})
    response = HTMLResponse(render_text(name, values), status_code=status_code)
    return apply_security_headers(response)
