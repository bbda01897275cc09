"""PostgreSQL → PostgreSQL without Arrow: binary COPY data passed through as it arrives.

Written against libpq's COPY calls (`psycopg.pq`) rather than psycopg's `Copy` object: that
one costs about 2 µs of Python per row (it yields each row's message through a generator),
which on a 1M-row copy was more CPU than the Arrow path it replaces. Here one loop gathers
the rows' messages into pieces of `CHUNK_BYTES` and hands each piece to the destination in
one call; our process then spends about half a CPU-second per 1M rows of the benchmark's
shape (the Arrow path: 1.7).
Both connections are put in blocking mode for the copy, so a slow destination holds the
source back (libpq's output buffer would otherwise grow without bound).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from psycopg import pq, sql

from orcrustator.plugins.base import (
    CursorState,
    PluginError,
    PostgresCopySource,
    TransientPluginError,
)
from orcrustator.plugins.builtin import _cursor
from orcrustator.plugins.builtin.postgres import DEAD_CLIENT_CHECK_MS, WATCH_CLIENT_SQL, libpq_url
from orcrustator.plugins.identifiers import TableRef, quote

CHUNK_BYTES = 256 * 1024
FIRST_USER_OID = 16384
"""PostgreSQL's FirstNormalObjectId: types below it are built in, the same in every database
(their binary form and OIDs, which arrays carry); a type of one database's own (an enum, a
domain) may not exist in the other, so such a column takes the Arrow path."""


def connect(url: str) -> psycopg.Connection[Any]:
    """A connection whose cursors take `$1` parameters (as ADBC's do) and whose backend stops
    soon after this process dies."""
    try:
        conn = psycopg.connect(libpq_url(url), cursor_factory=psycopg.RawCursor)
    except psycopg.Error as exc:
        raise TransientPluginError(f"cannot connect to PostgreSQL: {exc}") from exc
    try:
        conn.execute(WATCH_CLIENT_SQL, (str(DEAD_CLIENT_CHECK_MS),))
        conn.commit()
    except BaseException:
        conn.close()
        raise
    return conn


def _error(result: pq.abc.PGresult | None, conn: pq.abc.PGconn) -> str:
    message = result.error_message if result is not None else conn.error_message
    return message.decode(errors="replace").strip() or "the connection was lost"


def _drain(conn: pq.abc.PGconn) -> None:
    while conn.get_result() is not None:
        pass


class CopyOut(PostgresCopySource):
    """`COPY (select) TO STDOUT (FORMAT binary)` in a read-only repeatable-read transaction,
    so that an incremental cursor's new end and the rows sent are of one snapshot."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        select_sql: str,
        columns: tuple[tuple[str, str], ...],
        cursor_end_sql: str | None,
        cursor: CursorState | None,
    ) -> None:
        self._conn = conn
        self._select = select_sql
        self.columns = columns
        self._cursor_end_sql = cursor_end_sql
        self._cursor = cursor

    @classmethod
    def open(
        cls,
        url: str,
        source_sql: str,
        source_alias: str,
        cursor_column: str | None,
        cursor: CursorState | None,
    ) -> CopyOut | None:
        """`source_sql` (a `SELECT * FROM … AS source_alias`) described; None when a column's
        type or a repeated name rules the copy out."""
        conn = connect(url)
        try:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            columns = _describe(conn, source_sql)
            if columns is None:
                conn.close()
                return None
            if cursor_column is None:
                return cls(conn, source_sql, columns, None, None)
            if cursor_column not in (name for name, _ in columns):
                raise PluginError(
                    f"cursor_column '{cursor_column}' is not in the extracted columns"
                )
            # Qualified, as in the Arrow path: ORDER BY a bare name would mean the output column.
            column = f"{source_alias}.{quote(cursor_column)}"
            filtered = source_sql
            if cursor is not None and cursor.start is not None:
                # COPY takes no parameters: psycopg quotes the value as a literal of its own
                # type; nothing is spliced as text.
                literal = sql.Literal(cursor.start).as_string(conn)
                filtered += f" WHERE {column} > {literal}"
            end_sql = f"SELECT max(orc_rows.{quote(cursor_column)}) FROM ({filtered}) AS orc_rows"
            return cls(conn, f"{filtered} ORDER BY {column}", columns, end_sql, cursor)
        except psycopg.Error as exc:
            conn.close()
            raise PluginError(f"the query failed: {exc}") from exc
        except BaseException:
            conn.close()
            raise

    def _set_cursor_end(self) -> None:
        if self._cursor_end_sql is None or self._cursor is None:
            return
        row = self._conn.execute(self._cursor_end_sql).fetchone()
        self._cursor.end = _cursor.later(self._cursor.start, row[0] if row is not None else None)

    def chunks(self) -> Iterator[tuple[bytes | bytearray, int]]:
        try:
            self._set_cursor_end()
        except psycopg.Error as exc:
            raise PluginError(f"the query failed: {exc}") from exc
        pg = self._conn.pgconn
        pg.nonblocking = 0
        pg.send_query(f"COPY ({self._select}) TO STDOUT (FORMAT binary)".encode())
        started = pg.get_result()
        if started is None or started.status != pq.ExecStatus.COPY_OUT:
            raise PluginError(f"the query failed: {_error(started, pg)}")
        # Each message is copied into one growing buffer and let go at once: a million small
        # buffer objects held until a piece was joined kept Python's garbage collector busy
        # (a third more CPU in an executor process, whose heap is large).
        piece = bytearray()
        rows = 0
        read = pg.get_copy_data
        while True:
            length, data = read(0)
            if length < 0:
                break
            if len(piece) >= CHUNK_BYTES:
                yield piece, rows
                piece = bytearray()
                rows = 0
            piece += data
            rows += 1
        ended = pg.get_result()
        if length == -2 or ended is None or ended.status != pq.ExecStatus.COMMAND_OK:
            raise PluginError(f"the query failed: {_error(ended, pg)}")
        _drain(pg)
        # Every message is one row but the last, the trailer (sent alone or, when there are no
        # rows, with the header); it is always in this final piece.
        yield piece, rows - 1

    def close(self) -> None:
        self._conn.close()


def _describe(conn: psycopg.Connection[Any], source_sql: str) -> tuple[tuple[str, str], ...] | None:
    cur = conn.execute(f"{source_sql} LIMIT 0")
    result = cur.pgresult
    if result is None or cur.description is None:
        return None
    names = [column.name for column in cur.description]
    types = [(result.ftype(i), result.fmod(i)) for i in range(result.nfields)]
    if not names or len(set(names)) != len(names) or any(oid >= FIRST_USER_OID for oid, _ in types):
        return None
    # The OIDs and modifiers are integers the server sent, not input: safe to format in.
    listed = ", ".join(f"format_type({oid}, {mod})" for oid, mod in types)
    declared = conn.execute(f"SELECT {listed}").fetchone()
    if declared is None:
        return None
    return tuple(zip(names, (str(t) for t in declared), strict=True))


def copy_in(
    conn: psycopg.Connection[Any],
    table: TableRef,
    names: list[str],
    chunks: Iterator[tuple[bytes | bytearray, int]],
    on_progress: Callable[[int, int], None],
) -> tuple[int, int]:
    """`COPY table (names) FROM STDIN (FORMAT binary)` fed with `chunks`: (rows, bytes) copied.

    Runs inside the connection's open transaction; an error leaves it to be rolled back."""
    if conn.info.transaction_status != pq.TransactionStatus.INTRANS:
        raise RuntimeError("copy_in needs an open transaction")  # a bug, not bad input
    pg = conn.pgconn
    pg.nonblocking = 0
    columns = ", ".join(quote(n) for n in names)
    pg.send_query(f"COPY {table.sql} ({columns}) FROM STDIN (FORMAT binary)".encode())
    started = pg.get_result()
    if started is None or started.status != pq.ExecStatus.COPY_IN:
        raise PluginError(f"loading into {table} failed: {_error(started, pg)}")
    rows = nbytes = 0
    try:
        for data, count in chunks:
            if pg.put_copy_data(data) != 1:
                break  # the server refused the data: its error is read below
            rows += count
            nbytes += len(data)
            on_progress(rows, nbytes)
    except BaseException:
        pg.put_copy_end(b"the task stopped")
        _drain(pg)
        raise
    pg.put_copy_end()
    ended = pg.get_result()
    if ended is None or ended.status != pq.ExecStatus.COMMAND_OK:
        _drain(pg)
        raise PluginError(f"loading into {table} failed: {_error(ended, pg)}")
    _drain(pg)
    copied = int(ended.command_status.split()[-1]) if ended.command_status else rows
    return copied, nbytes
