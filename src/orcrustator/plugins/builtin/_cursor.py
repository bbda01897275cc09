"""Incremental cursor values: the largest value of a batch, and a stable text form to store."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]


def batch_max(column: pa.Array) -> Any:
    """The largest non-null value in the column, as a Python value (None if all null)."""
    if len(column) == 0 or column.null_count == len(column):
        return None
    return pc.max(column).as_py()


def later(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return b if b > a else a


def encode(value: Any) -> str:
    """Text that `decode` turns back into an equal value of the same type."""
    text: bool | int | float | str
    if isinstance(value, datetime):
        kind, text = "datetime", value.isoformat()
    elif isinstance(value, date):
        kind, text = "date", value.isoformat()
    elif isinstance(value, Decimal):
        kind, text = "decimal", str(value)
    elif isinstance(value, bool | int | float | str):
        kind, text = type(value).__name__, value
    else:
        raise TypeError(f"cannot keep a cursor of type {type(value).__name__}")
    return json.dumps({"type": kind, "value": text})


def decode(stored: str | None) -> Any:
    if stored is None:
        return None
    data = json.loads(stored)
    kind, value = data["type"], data["value"]
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "decimal":
        return Decimal(value)
    return value
