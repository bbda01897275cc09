"""Small helpers shared by the repositories."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Result, Row

Record = dict[str, Any]
Query = sa.Select[*tuple[Any, ...]]


def as_record(row: Row[*tuple[Any, ...]]) -> Record:
    return dict(row._mapping)


def as_records(result: Result[*tuple[Any, ...]]) -> list[Record]:
    # The column names once per result: `row._mapping` builds a key view for every row, which
    # on a 50-row page cost more CPU than the rows' own values.
    keys = tuple(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def utcnow() -> datetime:
    return datetime.now(UTC)
