"""Loader `postgres`: binary COPY through ADBC, in one transaction with its schema changes.

Modes: `append`; `replace` loads a staging table and swaps it in within the same transaction
(readers see the old rows or the new, never half); `merge` loads a temporary table and upserts
on `key`. A missing table is created from the Arrow schema, a new source column is added as
nullable, and for incremental runs the new cursor commits with the rows. Any failure rolls the
whole transaction back: the destination stays as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, Literal

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
from pydantic import Field, SecretStr, field_validator

from orcrustator.plugins import secrets
from orcrustator.plugins.base import (
    CursorState,
    LoadResult,
    PluginError,
    PluginSpec,
    PostgresCopyLoader,
    PostgresCopySource,
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

_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+")


def libpq_url(url: str) -> str:
    """`postgres://…` and SQLAlchemy's `postgresql+driver://…` as the plain form libpq takes."""
    if not url.startswith(_POSTGRES_SCHEMES):
        raise PluginError("url must start with postgresql:// (or postgres://)")
    return "postgresql://" + url.split("://", 1)[1]


# A backend whose client died mid-statement (an executor killed on a timeout, say) keeps
# running it until it next writes to the client: `pg_sleep(3600)` for an hour, holding its locks.
# From PostgreSQL 14 this makes the backend check the client's socket while it works; older
# servers do not know the setting, hence the version guard.
DEAD_CLIENT_CHECK_MS = 1000
WATCH_CLIENT_SQL = (
    "SELECT set_config('client_connection_check_interval', $1, false) "
    "WHERE current_setting('server_version_num')::int >= 140000"
)


def connect(url: str) -> Any:
    """An ADBC connection whose backend stops soon after this process dies."""
    import adbc_driver_postgresql.dbapi as adbc_pg  # heavy: import when used

    try:
        conn = adbc_pg.connect(libpq_url(url))
    except Exception as exc:
        raise TransientPluginError(f"cannot connect to PostgreSQL: {exc}") from exc
    try:
        with conn.cursor() as cur:
            cur.execute(WATCH_CLIENT_SQL, (str(DEAD_CLIENT_CHECK_MS),))
            cur.fetchall()
        conn.commit()  # a session setting made in a rolled-back transaction would be undone
    except BaseException:
        conn.close()
        raise
    return conn


def check_postgres_url(value: SecretStr) -> SecretStr:
    url = value.get_secret_value()
    if secrets.starts_with_reference(url):
        return value  # `${env:WAREHOUSE_URL}`: checked again once resolved, when the task runs
    if not url.startswith(_POSTGRES_SCHEMES):
        raise ValueError("must start with postgresql:// (or postgres://)")
    return value


class PostgresLoaderConfig(TableLoadOptions):
    type: Literal["postgres"] = "postgres"
    url: SecretStr = Field(description="postgresql://user:password@host:port/database")

    _url = field_validator("url")(check_postgres_url)


class PostgresLoader(StatefulLoader, PostgresCopyLoader):
    def __init__(self, config: PostgresLoaderConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.table = TableRef.parse(config.table)
        self._conn: Any = None

    # --- connection ------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self._conn is None:
            self._conn = connect(self.config.url.get_secret_value())
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _columns(self, cur: Any, table: TableRef) -> dict[str, str]:
        """The table's columns and their declared types ({} when it does not exist)."""
        cur.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) "
            "FROM pg_attribute a WHERE a.attrelid = to_regclass($1) "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (table.sql,),
        )
        return dict(cur.fetchall())

    # --- loader interface ------------------------------------------------------------------
    def target_schema(self) -> pa.Schema | None:
        try:
            with self._connect().cursor() as cur:
                columns = self._columns(cur, self.table)
            self._conn.rollback()
        except TransientPluginError:
            return None
        fields = [
            pa.field(name, t)
            for name, declared in columns.items()
            if (t := _sqltypes.arrow_type(declared)) is not None
        ]
        return pa.schema(fields) if fields else None

    def read_cursor(self, key: str) -> Any:
        state = self._state_table()
        with self._connect().cursor() as cur:
            cur.execute("SELECT to_regclass($1) IS NOT NULL", (state.sql,))
            row = None
            if cur.fetchone()[0]:
                cur.execute(
                    f"SELECT cursor_value FROM {state.sql} WHERE state_key = $1",
                    (key,),
                )
                row = cur.fetchone()
        self._conn.rollback()
        return _cursor.decode(row[0]) if row else None

    def load(self, batches: Iterator[pa.RecordBatch]) -> LoadResult:
        return self._load(batches, None)

    def load_with_cursor(
        self, batches: Iterator[pa.RecordBatch], cursor: CursorState
    ) -> LoadResult:
        return self._load(batches, cursor)

    def load_postgres_copy(
        self, source: PostgresCopySource, cursor: CursorState | None
    ) -> LoadResult | None:
        from orcrustator.plugins.builtin import _pgcopy  # psycopg: import when used

        declared = dict(source.columns)
        conn = _pgcopy.connect(self.config.url.get_secret_value())
        try:
            cur = conn.cursor()
            existing = self._columns(cur, self.table)
            if any(existing.get(name, wanted) != wanted for name, wanted in declared.items()):
                conn.rollback()
                return None  # the Arrow path converts, or names the conflicting column
            destination, _ = self._prepare(cur, existing, declared)
            self.ctx.log("INFO", f"copying into {self.table} as binary COPY data, undecoded")

            def progress(rows: int, nbytes: int) -> None:
                self.ctx.raise_if_cancelled()
                self.ctx.progress(rows, rows, nbytes)

            rows, nbytes = _pgcopy.copy_in(
                conn, destination, list(declared), source.chunks(), progress
            )
            self.ctx.progress(rows, rows, nbytes)
            self._finish(cur, destination, list(declared), cursor)
            self.ctx.raise_if_cancelled()
            conn.commit()
            return LoadResult(rows, nbytes)
        finally:
            conn.close()  # uncommitted work, after an error, is rolled back with it
            self._close()

    # --- the transaction -------------------------------------------------------------------
    def _state_table(self) -> TableRef:
        return self.table.with_name(STATE_TABLE)

    def _load(self, batches: Iterator[pa.RecordBatch], cursor: CursorState | None) -> LoadResult:
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                result = self._load_in_transaction(cur, batches, cursor)
            self.ctx.raise_if_cancelled()
            conn.commit()
            return result
        except BaseException:
            try:
                conn.rollback()
            finally:
                self._close()
            raise
        finally:
            self._close()

    def _load_in_transaction(
        self, cur: Any, batches: Iterator[pa.RecordBatch], cursor: CursorState | None
    ) -> LoadResult:
        first = next(batches, None)
        existing = self._columns(cur, self.table)
        if first is None:
            if self.config.mode == "replace" and existing:
                cur.execute(f"DELETE FROM {self.table.sql}")
            self._save_cursor(cur, cursor)
            return LoadResult(0, 0)

        source = first.schema
        destination, existing = self._prepare(
            cur, existing, {f.name: _sqltypes.sql_type(f.type) for f in source}
        )
        target_schema = pa.schema(
            [pa.field(f.name, _sqltypes.arrow_type(existing[f.name]) or f.type) for f in source]
        )
        counts = [0, 0]
        failures: list[BaseException] = []

        def conformed() -> Iterator[pa.RecordBatch]:
            try:
                for batch in chain(first, batches):
                    self.ctx.raise_if_cancelled()
                    out = _sqltypes.conform(batch, target_schema, f"table {self.table}")
                    counts[0] += out.num_rows
                    counts[1] += out.nbytes
                    self.ctx.progress(0, counts[0], counts[1])
                    yield out
            except BaseException as exc:
                # The C++ reader turns this into its own error; keep ours to re-raise.
                failures.append(exc)
                raise

        reader = pa.RecordBatchReader.from_batches(target_schema, conformed())
        try:
            cur.adbc_ingest(
                destination.name, reader, mode="append", db_schema_name=destination.schema
            )
        except Exception as exc:
            if failures:
                raise failures[0] from None
            raise PluginError(f"loading into {self.table} failed: {exc}") from exc
        self._finish(cur, destination, source.names, cursor)
        return LoadResult(counts[0], counts[1])

    def _prepare(
        self, cur: Any, existing: dict[str, str], declared: dict[str, str]
    ) -> tuple[TableRef, dict[str, str]]:
        """Create the table, or add the source's new columns to it; then the table to copy the
        rows into (a staging table for replace and merge) and the columns' declared types."""
        if not existing:
            self._create(cur, self.table, declared)
            existing = dict(declared)
        else:
            existing = self._add_missing_columns(cur, self.table, declared, existing)
        if self.config.mode == "replace":
            staging = self.table.with_name(f"{self.table.name}__orc_{uuid.uuid4().hex[:8]}")
            cur.execute(f"CREATE TABLE {staging.sql} (LIKE {self.table.sql} INCLUDING ALL)")
            return staging, existing
        if self.config.mode == "merge":
            # A plain table (not TEMP, which ADBC's ingest cannot address), gone at commit.
            staging = self.table.with_name(f"{self.table.name}__orc_{uuid.uuid4().hex[:8]}")
            cur.execute(f"CREATE TABLE {staging.sql} (LIKE {self.table.sql})")
            return staging, existing
        return self.table, existing

    def _finish(
        self, cur: Any, loaded: TableRef, columns: list[str], cursor: CursorState | None
    ) -> None:
        """Swap in or merge the staging table, and store the new cursor."""
        if self.config.mode == "replace":
            cur.execute(f"DROP TABLE {self.table.sql}")
            cur.execute(f"ALTER TABLE {loaded.sql} RENAME TO {quote(self.table.name)}")
        elif self.config.mode == "merge":
            self._merge(cur, loaded, columns)
            cur.execute(f"DROP TABLE {loaded.sql}")
        self._save_cursor(cur, cursor)

    def _create(self, cur: Any, table: TableRef, declared: dict[str, str]) -> None:
        columns = ", ".join(f"{quote(name)} {sql_type}" for name, sql_type in declared.items())
        key = ""
        if self.config.mode == "merge" and self.config.key:
            key = f", PRIMARY KEY ({', '.join(quote(k) for k in self.config.key)})"
        cur.execute(f"CREATE TABLE {table.sql} ({columns}{key})")
        self.ctx.log("INFO", f"created table {table} from the source schema")

    def _add_missing_columns(
        self, cur: Any, table: TableRef, declared: dict[str, str], existing: dict[str, str]
    ) -> dict[str, str]:
        for name, sql_type in declared.items():
            if name not in existing:
                cur.execute(f"ALTER TABLE {table.sql} ADD COLUMN {quote(name)} {sql_type}")
                self.ctx.log("INFO", f"added column {name} ({sql_type}) to {table}")
                existing = {**existing, name: sql_type}
        return existing

    def _merge(self, cur: Any, staging: TableRef, columns: list[str]) -> None:
        keys = self.config.key or []
        cur.execute(null_key_count_sql(staging, keys, columns))
        if cur.fetchone()[0]:
            raise null_keys_error(keys)
        match = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in keys)
        cols = ", ".join(quote(c) for c in columns)
        key_cols = ", ".join(quote(k) for k in keys)
        cur.execute(f"DELETE FROM {self.table.sql} AS t USING {staging.sql} AS s WHERE {match}")
        # The last occurrence of a key in the load wins, as it would row by row.
        cur.execute(
            f"INSERT INTO {self.table.sql} ({cols}) "
            f"SELECT DISTINCT ON ({key_cols}) {cols} FROM {staging.sql} "
            f"ORDER BY {key_cols}, ctid DESC"
        )

    def _save_cursor(self, cur: Any, cursor: CursorState | None) -> None:
        if cursor is None or cursor.end is None:
            return
        state = self._state_table()
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {state.sql} (state_key text PRIMARY KEY, "
            "cursor_value text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
        )
        cur.execute(
            f"INSERT INTO {state.sql} (state_key, cursor_value) VALUES ($1, $2) "
            "ON CONFLICT (state_key) DO UPDATE SET cursor_value = EXCLUDED.cursor_value, "
            "updated_at = now()",
            (cursor.key, _cursor.encode(cursor.end)),
        )


def _build(config: PostgresLoaderConfig, ctx: RunContext) -> PostgresLoader:
    return PostgresLoader(config, ctx)


loader_spec: PluginSpec[PostgresLoaderConfig, PostgresLoader] = PluginSpec(
    name="postgres",
    kind="loader",
    config_model=PostgresLoaderConfig,
    factory=_build,
    description="PostgreSQL table by binary COPY (append, atomic replace, merge on key)",
)
