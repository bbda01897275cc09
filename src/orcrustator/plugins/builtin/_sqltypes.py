"""Arrow types ↔ SQL column types, shared by the PostgreSQL and SQLite plugins.

Both backends get PostgreSQL's type names (SQLite derives its affinity from the name and keeps
it, so a table created here can be read back with the same Arrow types). Loading never
guesses: a source column either already has the destination's type, can be cast to it without
loss, or the load fails naming the column and both types.
"""

from __future__ import annotations

import re
from typing import Literal

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

from orcrustator.plugins.base import PluginError

_NUMERIC = re.compile(r"^(?:numeric|decimal)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$")
_VARCHAR = re.compile(r"^(?:character varying|varchar|character|char|bpchar)\b.*$")


Dialect = Literal["postgresql", "sqlite"]

# SQLite's own spellings mean 64-bit: INTEGER is int64 and REAL a double there, so tables made
# here say int4/float4 for the 32-bit types to keep them on a round trip.
_SQLITE_TYPES = {"int32": "int4", "float32": "float4"}
_SQLITE_NAMES = {
    "integer": pa.int64(),
    "int": pa.int64(),
    "real": pa.float64(),
    "int4": pa.int32(),
    "float4": pa.float32(),
}


def sql_type(arrow: pa.DataType, dialect: Dialect = "postgresql") -> str:
    """The column type a new table gets for an Arrow type."""
    if dialect == "sqlite" and str(arrow) in _SQLITE_TYPES:
        return _SQLITE_TYPES[str(arrow)]
    if pa.types.is_boolean(arrow):
        return "boolean"
    if pa.types.is_int8(arrow) or pa.types.is_int16(arrow) or pa.types.is_uint8(arrow):
        return "smallint"
    if pa.types.is_int32(arrow) or pa.types.is_uint16(arrow):
        return "integer"
    if pa.types.is_integer(arrow):
        return "bigint"
    if pa.types.is_float16(arrow) or pa.types.is_float32(arrow):
        return "real"
    if pa.types.is_float64(arrow):
        return "double precision"
    if pa.types.is_decimal(arrow):
        return f"numeric({arrow.precision},{arrow.scale})"
    if pa.types.is_date(arrow):
        return "date"
    if pa.types.is_timestamp(arrow):
        return "timestamptz" if arrow.tz is not None else "timestamp"
    if pa.types.is_time(arrow):
        return "time"
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow):
        return "bytea"
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow) or pa.types.is_null(arrow):
        return "text"
    if pa.types.is_dictionary(arrow):
        return sql_type(arrow.value_type, dialect)
    raise PluginError(f"no SQL column type for Arrow type {arrow}")


def arrow_type(declared: str, dialect: Dialect = "postgresql") -> pa.DataType | None:
    """The Arrow type for a declared SQL type, or None when it has no fixed one."""
    name = declared.strip().lower()
    if not name:
        return None
    if dialect == "sqlite" and name in _SQLITE_NAMES:
        return _SQLITE_NAMES[name]
    if (match := _NUMERIC.match(name)) is not None:
        return pa.decimal128(int(match.group(1)), int(match.group(2) or 0))
    exact = {
        "boolean": pa.bool_(),
        "bool": pa.bool_(),
        "smallint": pa.int16(),
        "int2": pa.int16(),
        "integer": pa.int32(),
        "int": pa.int32(),
        "int4": pa.int32(),
        "bigint": pa.int64(),
        "int8": pa.int64(),
        "real": pa.float32(),
        "float4": pa.float32(),
        "double precision": pa.float64(),
        "float8": pa.float64(),
        "double": pa.float64(),
        "float": pa.float64(),
        "date": pa.date32(),
        "timestamptz": pa.timestamp("us", tz="UTC"),
        "timestamp with time zone": pa.timestamp("us", tz="UTC"),
        "timestamp": pa.timestamp("us"),
        "timestamp without time zone": pa.timestamp("us"),
        "datetime": pa.timestamp("us"),
        "time": pa.time64("us"),
        "time without time zone": pa.time64("us"),
        "bytea": pa.binary(),
        "blob": pa.binary(),
        "text": pa.string(),
        "json": pa.string(),
        "jsonb": pa.string(),
        "uuid": pa.string(),
    }
    if name in exact:
        return exact[name]
    if _VARCHAR.match(name) or "char" in name or "clob" in name:
        return pa.string()
    return None


def _widens(source: pa.DataType, target: pa.DataType) -> bool:
    """Casts that can never lose information or fail on a value."""
    if source.equals(target) or pa.types.is_null(source):
        return True
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        return bool(pa.types.is_string(source) or pa.types.is_large_string(source))
    if pa.types.is_integer(source) and pa.types.is_integer(target):
        return bool(target.bit_width >= source.bit_width) and bool(
            pa.types.is_signed_integer(target) or not pa.types.is_signed_integer(source)
        )
    if pa.types.is_integer(source) and (
        pa.types.is_floating(target) or pa.types.is_decimal(target)
    ):
        return True
    if pa.types.is_floating(source) and pa.types.is_floating(target):
        return bool(target.bit_width >= source.bit_width)
    if pa.types.is_decimal(source) and pa.types.is_decimal(target):
        return bool(target.scale >= source.scale) and bool(
            target.precision - target.scale >= source.precision - source.scale
        )
    if pa.types.is_timestamp(source) and pa.types.is_timestamp(target):
        return bool((source.tz is None) == (target.tz is None))
    return bool(pa.types.is_date(source) and pa.types.is_date(target))


def _narrows_checked(source: pa.DataType, target: pa.DataType) -> bool:
    """Casts that are fine for most values and fail loudly (safe cast) on the others."""
    if pa.types.is_integer(source) and pa.types.is_integer(target):
        return True  # e.g. int64 parsed from CSV into an integer column: overflow is an error
    if pa.types.is_floating(source) and pa.types.is_decimal(target):
        return True  # a CSV amount read as float into numeric(12,2)
    if pa.types.is_decimal(source) and pa.types.is_decimal(target):
        return True
    if pa.types.is_floating(source) and pa.types.is_floating(target):
        return True
    return bool(pa.types.is_timestamp(source) and pa.types.is_timestamp(target))


def conform(batch: pa.RecordBatch, target: pa.Schema, where: str) -> pa.RecordBatch:
    """Cast the batch's columns to the destination's types; fail naming column and types."""
    arrays = []
    fields = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        wanted = target.field(field.name).type if field.name in target.names else field.type
        if column.type.equals(wanted):
            arrays.append(column)
        elif _widens(column.type, wanted) or _narrows_checked(column.type, wanted):
            try:
                arrays.append(column.cast(wanted, safe=True))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise PluginError(
                    f"column '{field.name}' of {where}: cannot store {column.type} values as "
                    f"{wanted}: {exc}"
                ) from None
        else:
            raise PluginError(
                f"column '{field.name}' of {where} is {sql_type(wanted)} ({wanted}) but the "
                f"source column is {column.type}"
            )
        fields.append(pa.field(field.name, wanted))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
