"""Contract adapters for the `sql` extractor: a PostgreSQL source, and a SQLite source.

The suite keys adapters by name, one per name: `sql` is the PostgreSQL source (the session's
database, see `adapters_postgres`), and `sql-sqlite` runs the same extractor tests against a
SQLite file (the name is only the suite's key; the config is still `type: sql`).
Both sources are written independently of the plugins (psycopg's COPY; the sqlite3 module).
"""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

from tests.contract.adapters_postgres import connect, fresh_schema, pg_type, write_table
from tests.contract.conftest import ContractEnv, ExtractorAdapter, Source, register

ROW_COLUMN = "orc_row"


@register
class SqlPostgresExtractorAdapter(ExtractorAdapter):
    """A query ordered by a row-number column: a PostgreSQL table itself has no row order
    (COPY can place a wide row on a later page than the narrow ones after it)."""

    name = "sql"

    def source(self, table: pa.Table, env: ContractEnv, *, batch_rows: int) -> Source:
        url, schema = fresh_schema(env)
        numbered = table.append_column(ROW_COLUMN, pa.array(range(table.num_rows), pa.int64()))
        with connect(url) as conn:
            write_table(conn, schema, "source", numbered)
        selected = ", ".join(f'"{name}"' for name in table.column_names)
        query = f'SELECT {selected} FROM "{schema}".source ORDER BY {ROW_COLUMN}'
        config = {"type": "sql", "url": url, "query": query, "batch_size": batch_rows}
        return Source(config, table)


def _sqlite_value(value: Any) -> Any:
    """How a SQLite database commonly holds a value: ISO text for times, text for decimals."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    return value


@register
class SqlSqliteExtractorAdapter(ExtractorAdapter):
    """A SQLite table whose declared types name each column's type (as the sqlite loader's do)."""

    name = "sql-sqlite"

    def source(self, table: pa.Table, env: ContractEnv, *, batch_rows: int) -> Source:
        relative = f"in/{env.name}.sqlite"
        path = env.data_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        columns = ", ".join(f'"{f.name}" {pg_type(f.type)}' for f in table.schema)
        insert = f"INSERT INTO source VALUES ({', '.join('?' for _ in table.schema)})"
        conn = sqlite3.connect(path)
        try:
            with conn:
                conn.execute(f"CREATE TABLE source ({columns})")
                for batch in table.to_batches(max_chunksize=4096):
                    values = [column.to_pylist() for column in batch.columns]
                    conn.executemany(
                        insert,
                        (tuple(map(_sqlite_value, row)) for row in zip(*values, strict=True)),
                    )
        finally:
            conn.close()
        config = {
            "type": "sql",
            "url": f"sqlite:///{relative}",
            "table": "source",
            "batch_size": batch_rows,
        }
        return Source(config, table)
