"""Contract adapter for the `postgres` loader, and the PostgreSQL helpers `adapters_sql` shares.

One database per session (creating one is slow), from ORC_TEST_POSTGRES_URL (skipped locally
without it, a failure in CI); each destination or source gets its own schema in it, so a
snapshot can list every relation a load leaves behind (a staging table `<name>__orc_<hex>`).
Reading back and writing sources use psycopg, not the plugins' ADBC driver.
"""

from __future__ import annotations

import re
import uuid
from contextlib import ExitStack
from typing import Any

import psycopg
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
from psycopg import sql

from tests.conftest import create_postgres_database, drop_postgres_database, postgres_server_url
from tests.contract.conftest import ContractEnv, LoaderAdapter, register

_NUMERIC = re.compile(r"^numeric\((\d+),(\d+)\)$")
_TO_ARROW: dict[str, pa.DataType] = {
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "smallint": pa.int16(),
    "double precision": pa.float64(),
    "real": pa.float32(),
    "text": pa.string(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "timestamp without time zone": pa.timestamp("us"),
}


def _open_database(cleanup: ExitStack) -> str:
    url = create_postgres_database(postgres_server_url(), "orc_contract")
    cleanup.callback(drop_postgres_database, url)
    return "postgresql://" + url.split("://", 1)[1]  # the helper's is postgresql+psycopg://


def postgres_database(env: ContractEnv) -> str:
    """The session's contract database (created on first use, dropped at the end)."""
    return env.shared.get("postgres", _open_database)


def connect(url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SET TIME ZONE 'UTC'")
    return conn


def fresh_schema(env: ContractEnv) -> tuple[str, str]:
    """(database url, a new empty schema) for one source or destination; dropped after the test."""
    url = postgres_database(env)
    schema = f"{env.name}_{uuid.uuid4().hex[:6]}"
    with connect(url) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))

    def drop() -> None:
        with connect(url) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))

    env.cleanup.callback(drop)
    return url, schema


def pg_type(arrow: pa.DataType) -> str:
    """The column type a source table declares for an Arrow type (what a DBA would write)."""
    if pa.types.is_decimal(arrow):
        return f"numeric({arrow.precision},{arrow.scale})"
    if pa.types.is_timestamp(arrow):
        return "timestamptz" if arrow.tz is not None else "timestamp"
    for name, candidate in _TO_ARROW.items():
        if candidate.equals(arrow):
            return name
    raise AssertionError(f"no PostgreSQL type for {arrow} in this adapter")


def arrow_type(declared: str) -> pa.DataType:
    """The Arrow type a PostgreSQL column type keeps exactly (anything else fails the test)."""
    if match := _NUMERIC.match(declared):
        return pa.decimal128(int(match.group(1)), int(match.group(2)))
    if declared not in _TO_ARROW:
        raise AssertionError(f"unexpected PostgreSQL column type {declared!r}")
    return _TO_ARROW[declared]


def columns(conn: psycopg.Connection[Any], schema: str, table: str) -> list[tuple[str, str]]:
    """The table's (column, declared type) in order; [] when it does not exist."""
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        (schema, table),
    ).fetchall()
    return [(str(name), str(declared)) for name, declared in rows]


def all_rows(conn: psycopg.Connection[Any], schema: str, table: str) -> list[tuple[Any, ...]]:
    """Every row, in a total order (by every column), so two reads compare with ==."""
    count = len(columns(conn, schema, table))
    order = sql.SQL(", ").join(sql.Literal(i) for i in range(1, count + 1))
    query = sql.SQL("SELECT * FROM {} ORDER BY {}").format(sql.Identifier(schema, table), order)
    return [tuple(row) for row in conn.execute(query).fetchall()]


def write_table(conn: psycopg.Connection[Any], schema: str, name: str, table: pa.Table) -> None:
    """Create `schema.name` with the columns' PostgreSQL types and COPY the rows in, in order."""
    target = sql.Identifier(schema, name)
    definition = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(pg_type(f.type)))
        for f in table.schema
    )
    conn.execute(sql.SQL("CREATE TABLE {} ({})").format(target, definition))
    with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} FROM STDIN").format(target)) as copy:
        for batch in table.to_batches(max_chunksize=4096):
            columns_ = [column.to_pylist() for column in batch.columns]
            for row in zip(*columns_, strict=True):
                copy.write_row(row)


@register
class PostgresLoaderAdapter(LoaderAdapter):
    """`replace` mode: the one with a staging table and a swap, so the most to leave behind."""

    name = "postgres"
    keeps_order = False

    def config(self, env: ContractEnv) -> dict[str, Any]:
        url, schema = fresh_schema(env)
        return {"type": "postgres", "url": url, "table": f"{schema}.items", "mode": "replace"}

    def read_back(self, config: dict[str, Any], env: ContractEnv, schema: pa.Schema) -> pa.Table:
        """The table as PostgreSQL holds it: its own column types, none cast to `schema`."""
        namespace, table = str(config["table"]).split(".")
        with connect(str(config["url"])) as conn:
            declared = columns(conn, namespace, table)
            if not declared:  # nothing loaded yet: no table
                return schema.empty_table()
            rows = all_rows(conn, namespace, table)
        values = list(zip(*rows, strict=True)) if rows else [()] * len(declared)
        fields = [pa.field(name, arrow_type(type_)) for name, type_ in declared]
        arrays = [pa.array(list(v), f.type) for f, v in zip(fields, values, strict=True)]
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def snapshot(self, config: dict[str, Any], env: ContractEnv) -> object:
        """Every relation in the destination's schema, and each table's columns and rows."""
        namespace = str(config["table"]).split(".")[0]
        with connect(str(config["url"])) as conn:
            relations = conn.execute(
                "SELECT c.relname, c.relkind FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s ORDER BY 1",
                (namespace,),
            ).fetchall()
            tables = {
                name: (columns(conn, namespace, name), all_rows(conn, namespace, name))
                for name, kind in relations
                if kind in ("r", "p")
            }
        return relations, tables
