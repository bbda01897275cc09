"""Contract adapter for the `sqlite` loader: a table in a fresh SQLite file per destination.

SQLite has no decimal or timestamp type: the loader stores those as text or numbers, so the
file is read back with the sqlite3 module and each value converted to the type the test asks
for, strictly (a value of the wrong kind fails instead of being coerced).
"""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

from tests.contract.conftest import ContractEnv, LoaderAdapter, register

TABLE = "items"
SIDE_FILES = ("-journal", "-wal", "-shm")


def _path(config: dict[str, Any], env: ContractEnv) -> Path:
    return env.data_dir / str(config["path"])


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, float):
        return decimal.Decimal(repr(value))  # a REAL: its shortest exact text
    if isinstance(value, int | str):
        return decimal.Decimal(value)
    raise TypeError(f"a decimal stored as {type(value).__name__}: {value!r}")


def _bool(value: Any) -> bool:
    if value not in (0, 1) or isinstance(value, float | str):
        raise TypeError(f"a boolean stored as {value!r}")
    return bool(value)


def _timestamp(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise TypeError(f"a timestamp stored as {type(value).__name__}: {value!r}")
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise TypeError(f"a timestamp with a time zone stored without one: {value!r}")
    return parsed


def _date(value: Any) -> dt.date:
    if not isinstance(value, str):
        raise TypeError(f"a date stored as {type(value).__name__}: {value!r}")
    return dt.date.fromisoformat(value)


def _float(value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"a float stored as {value!r}")
    return float(value)


def _exact(kind: type) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, kind):
            raise TypeError(f"a {kind.__name__} stored as {type(value).__name__}: {value!r}")
        return value

    return check


def _converter(arrow: pa.DataType) -> Callable[[Any], Any]:
    if pa.types.is_decimal(arrow):
        return _decimal
    if pa.types.is_timestamp(arrow):
        return _timestamp
    if pa.types.is_date(arrow):
        return _date
    if pa.types.is_boolean(arrow):
        return _bool
    if pa.types.is_floating(arrow):
        return _float
    if pa.types.is_integer(arrow):
        return _exact(int)
    if pa.types.is_string(arrow):
        return _exact(str)
    raise AssertionError(f"no SQLite read-back for {arrow} in this adapter")


@register
class SqliteLoaderAdapter(LoaderAdapter):
    """`replace` mode: the one with a staging table renamed over the old one."""

    name = "sqlite"
    keeps_order = False

    def config(self, env: ContractEnv) -> dict[str, Any]:
        path = f"out/{env.name}_{uuid.uuid4().hex[:6]}.sqlite"
        return {"type": "sqlite", "path": path, "table": TABLE, "mode": "replace"}

    def read_back(self, config: dict[str, Any], env: ContractEnv, schema: pa.Schema) -> pa.Table:
        path = _path(config, env)
        if not path.exists():
            return schema.empty_table()
        conn = _read_only(path)
        try:
            names = [row[1] for row in conn.execute(f"PRAGMA table_info({_quote(TABLE)})")]
            if not names:  # nothing loaded yet: no table
                return schema.empty_table()
            selected = ", ".join(_quote(n) for n in names)
            rows = conn.execute(f"SELECT {selected} FROM {_quote(TABLE)}").fetchall()
        finally:
            conn.close()
        unknown = [n for n in names if n not in schema.names]
        assert not unknown, f"columns {unknown} are not in {schema}"
        fields = [schema.field(n) for n in names]
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        arrays = []
        for field, values in zip(fields, columns, strict=True):
            convert = _converter(field.type)
            arrays.append(pa.array([None if v is None else convert(v) for v in values], field.type))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def snapshot(self, config: dict[str, Any], env: ContractEnv) -> object:
        """Every object in the file (tables, indexes) with each table's rows, and side files.

        A file that does not exist counts as one with no tables (opening an empty file, which
        SQLite does on connect, changes nothing a reader can see).
        """
        path = _path(config, env)
        side = sorted(s for s in SIDE_FILES if path.with_name(path.name + s).exists())
        if not path.exists():
            return [], {}, side
        conn = _read_only(path)
        try:
            objects = conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
            ).fetchall()
            tables = {}
            for kind, name, _, _ in objects:
                if kind == "table":
                    count = len(conn.execute(f"PRAGMA table_info({_quote(name)})").fetchall())
                    order = ", ".join(str(i) for i in range(1, count + 1))
                    query = f"SELECT * FROM {_quote(name)} ORDER BY {order}"
                    tables[name] = conn.execute(query).fetchall()
        finally:
            conn.close()
        return objects, tables, side
