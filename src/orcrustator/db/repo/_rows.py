"""Small helpers shared by the repositories."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Row

Record = dict[str, Any]


def as_record(row: Row[*tuple[Any, ...]]) -> Record:
    return dict(row._mapping)


def utcnow() -> datetime:
    return datetime.now(UTC)
