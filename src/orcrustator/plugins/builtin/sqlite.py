"""Loader `sqlite`: a table in a SQLite file under the data directory, in one transaction.

The same modes as the PostgreSQL loader: `append`, `replace` (a staging table renamed over the
old one inside the transaction), `merge` (upsert on `key`). SQLite is row-oriented, so rows are
inserted with executemany per batch; the transaction is what makes the load all-or-nothing.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
from pydantic import field_validator

from orcrustator.plugins.base import (
    CursorState,
    LoadResult,
    PluginError,
    PluginSpec,
    RunContext,
    StatefulLoader,
    TransientPluginError,
)
from orcrustator.plugins.builtin import _cursor, _sqltypes
from orcrustator.plugins.builtin._tables import (
    STATE_TABLE,
    TableLoadOptions,
    chain,
    null_key_count_sql,
    null_keys_error,
)
from orcrustator.plugins.identifiers import TableRef, quote
from orcrustator.plugins.paths import DataPath, resolve_data_path

BUSY_TIMEOUT_MS = 30_000


class SqliteLoaderConfig(TableLoadOptions):
    type: Literal["sqlite"] = "sqlite"
    path: DataPath

    @field_validator("table")
    @classmethod
    def _main_schema_only(cls, value: str) -> str:
        ref = TableRef.parse(value)
        if ref.schema not in (None, "main"):
            raise ValueError("a SQLite table is 'name' (or 'main.name')")
        return value


def _python_value(value: Any) -> Any:
    """What sqlite3 stores for an Arrow value: text for times and decimals, 0/1 for bools."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _rows(batch: pa.RecordBatch) -> Iterator[tuple[Any, ...]]:
    columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
    for row in zip(*columns, strict=True):
        yield tuple(_python_value(v) for v in row)


class SqliteLoader(StatefulLoader):
    def __init__(self, config: SqliteLoaderConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.table = TableRef(None, TableRef.parse(config.table).name)
        self.path = resolve_data_path(ctx.data_dir, config.path)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise PluginError(f"cannot open SQLite file {self.config.path}: {exc}") from exc
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return conn

    @staticmethod
    def _columns(conn: sqlite3.Connection, table: TableRef) -> dict[str, str]:
        rows = conn.execute(f"PRAGMA table_info({quote(table.name)})").fetchall()
        return {row[1]: row[2] for row in rows}

    def target_schema(self) -> pa.Schema | None:
        if not self.path.exists():
            return None
        conn = self._connect()
        try:
            columns = self._columns(conn, self.table)
        finally:
            conn.close()
        fields = [
            pa.field(name, t)
            for name, declared in columns.items()
            if (t := _sqltypes.arrow_type(declared, dialect="sqlite")) is not None
        ]
        return pa.schema(fields) if fields else None

    def read_cursor(self, key: str) -> Any:
        if not self.path.exists():
            return None
        conn = self._connect()
        try:
            if not self._columns(conn, TableRef(None, STATE_TABLE)):
                return None
            row = conn.execute(
                f"SELECT cursor_value FROM {quote(STATE_TABLE)} WHERE state_key = ?", (key,)
            ).fetchone()
        finally:
            conn.close()
        return _cursor.decode(row[0]) if row else None

    def load(self, batches: Iterator[pa.RecordBatch]) -> LoadResult:
        return self._load(batches, None)

    def load_with_cursor(
        self, batches: Iterator[pa.RecordBatch], cursor: CursorState
    ) -> LoadResult:
        return self._load(batches, cursor)

    def _load(self, batches: Iterator[pa.RecordBatch], cursor: CursorState | None) -> LoadResult:
        existed = self.path.exists()
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            result = self._load_in_transaction(conn, batches, cursor)
            self.ctx.raise_if_cancelled()
            conn.execute("COMMIT")
            return result
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if "locked" in str(exc) or "busy" in str(exc):
                raise TransientPluginError(
                    f"SQLite file {self.config.path} is busy: {exc}"
                ) from exc
            raise PluginError(f"loading into {self.table} failed: {exc}") from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()
            if not existed and not _has_tables(self.path):
                # A first load that failed leaves no empty database file behind.
                self.path.unlink(missing_ok=True)

    def _load_in_transaction(
        self,
        conn: sqlite3.Connection,
        batches: Iterator[pa.RecordBatch],
        cursor: CursorState | None,
    ) -> LoadResult:
        existing = self._columns(conn, self.table)
        first = next(batches, None)
        if first is None:
            if self.config.mode == "replace" and existing:
                conn.execute(f"DELETE FROM {self.table.sql}")
            self._save_cursor(conn, cursor)
            return LoadResult(0, 0)
        source = first.schema
        if not existing:
            existing = self._create(conn, self.table, source, primary_key=True)
        else:
            for field in source:
                if field.name not in existing:
                    declared = _sqltypes.sql_type(field.type, "sqlite")
                    conn.execute(
                        f"ALTER TABLE {self.table.sql} ADD COLUMN {quote(field.name)} {declared}"
                    )
                    self.ctx.log("INFO", f"added column {field.name} ({declared}) to {self.table}")
                    existing[field.name] = declared
        target_schema = pa.schema(
            [
                pa.field(f.name, _sqltypes.arrow_type(existing[f.name], dialect="sqlite") or f.type)
                for f in source
            ]
        )
        destination = self.table
        if self.config.mode in ("replace", "merge"):
            destination = self.table.with_name(f"{self.table.name}__orc_{uuid.uuid4().hex[:8]}")
            all_columns = pa.schema(
                [
                    pa.field(n, _sqltypes.arrow_type(d, dialect="sqlite") or pa.string())
                    for n, d in existing.items()
                ]
            )
            self._create(conn, destination, all_columns, primary_key=False, declared=existing)

        names = [f.name for f in source]
        insert = (
            f"INSERT INTO {destination.sql} ({', '.join(quote(n) for n in names)}) "
            f"VALUES ({', '.join('?' for _ in names)})"
        )
        rows = nbytes = 0
        for batch in chain(first, batches):
            self.ctx.raise_if_cancelled()
            out = _sqltypes.conform(batch, target_schema, f"table {self.table}")
            conn.executemany(insert, _rows(out))
            rows += out.num_rows
            nbytes += out.nbytes
            self.ctx.progress(0, rows, nbytes)

        if self.config.mode == "replace":
            conn.execute(f"DROP TABLE {self.table.sql}")
            conn.execute(f"ALTER TABLE {destination.sql} RENAME TO {quote(self.table.name)}")
        elif self.config.mode == "merge":
            self._merge(conn, destination, names)
            conn.execute(f"DROP TABLE {destination.sql}")
        self._save_cursor(conn, cursor)
        return LoadResult(rows, nbytes)

    def _create(
        self,
        conn: sqlite3.Connection,
        table: TableRef,
        schema: pa.Schema,
        *,
        primary_key: bool,
        declared: dict[str, str] | None = None,
    ) -> dict[str, str]:
        types = declared or {f.name: _sqltypes.sql_type(f.type, "sqlite") for f in schema}
        columns = ", ".join(f"{quote(n)} {t}" for n, t in types.items())
        key = ""
        if primary_key and self.config.mode == "merge" and self.config.key:
            key = f", PRIMARY KEY ({', '.join(quote(k) for k in self.config.key)})"
        conn.execute(f"CREATE TABLE {table.sql} ({columns}{key})")
        if declared is None:
            self.ctx.log("INFO", f"created table {table} from the source schema")
        return dict(types)

    def _merge(self, conn: sqlite3.Connection, staging: TableRef, columns: Sequence[str]) -> None:
        keys = self.config.key or []
        if conn.execute(null_key_count_sql(staging, keys, columns)).fetchone()[0]:
            raise null_keys_error(keys)
        key_cols = ", ".join(quote(k) for k in keys)
        cols = ", ".join(quote(c) for c in columns)
        conn.execute(
            f"DELETE FROM {self.table.sql} WHERE ({key_cols}) IN "
            f"(SELECT {key_cols} FROM {staging.sql})"
        )
        # The last occurrence of a key in the load wins, as it would row by row.
        conn.execute(
            f"INSERT INTO {self.table.sql} ({cols}) SELECT {cols} FROM {staging.sql} "
            f"WHERE rowid IN (SELECT max(rowid) FROM {staging.sql} GROUP BY {key_cols})"
        )

    def _save_cursor(self, conn: sqlite3.Connection, cursor: CursorState | None) -> None:
        if cursor is None or cursor.end is None:
            return
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {quote(STATE_TABLE)} (state_key TEXT PRIMARY KEY, "
            "cursor_value TEXT NOT NULL, updated_at TEXT NOT NULL)"
        )
        conn.execute(
            f"INSERT INTO {quote(STATE_TABLE)} (state_key, cursor_value, updated_at) "
            "VALUES (?, ?, datetime('now')) ON CONFLICT (state_key) DO UPDATE SET "
            "cursor_value = excluded.cursor_value, updated_at = excluded.updated_at",
            (cursor.key, _cursor.encode(cursor.end)),
        )


def _has_tables(path: Path) -> bool:
    if not path.exists():
        return False
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return bool(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])


def _build(config: SqliteLoaderConfig, ctx: RunContext) -> SqliteLoader:
    return SqliteLoader(config, ctx)


loader_spec: PluginSpec[SqliteLoaderConfig, SqliteLoader] = PluginSpec(
    name="sqlite",
    kind="loader",
    config_model=SqliteLoaderConfig,
    factory=_build,
    description="SQLite table in a file under the data directory (append, replace, merge)",
)
