"""The sql extractor and the postgres / sqlite loaders on real databases, through the real task
path (config validation, secrets, cursor state) that executor processes run."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from orcrustator.db.urls import parse_database_url
from orcrustator.worker.executor import ExecutorPool
from orcrustator.worker.executor_child import ChildResult, TaskSpec, _Reporter, run_task
from tests.conftest import create_postgres_database, drop_postgres_database, postgres_server_url

TYPED_DDL = """
CREATE TABLE {name} (
    id bigint, qty integer, score double precision, code text, active boolean,
    created_date date, updated_at timestamptz, maybe_int integer, amount numeric(12,2)
)
"""
ROWS = [
    (
        1,
        10,
        1.5,
        'Grüße, "quoted"',
        True,
        date(2024, 1, 2),
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        None,
        Decimal("1234567890.12"),
    ),
    (
        2,
        -3,
        -0.25,
        "naïve 🌍",
        False,
        date(1999, 12, 31),
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
        7,
        Decimal("-0.01"),
    ),
    (3, None, None, None, None, None, None, None, None),
]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    url = create_postgres_database(postgres_server_url(), "orc_plugins")
    yield url
    drop_postgres_database(url)


@pytest.fixture
def pg(pg_url: str) -> Iterator[sa.engine.Engine]:
    engine = sa.create_engine(parse_database_url(pg_url).sync_url, poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


def table_name() -> str:
    return f"t_{uuid.uuid4().hex[:8]}"


def run(
    extractor: dict[str, Any], loader: dict[str, Any], data_dir: Path, *, task_id: str = "task-1"
) -> ChildResult:
    return run_logged(extractor, loader, data_dir, task_id=task_id)[0]


def run_logged(
    extractor: dict[str, Any],
    loader: dict[str, Any],
    data_dir: Path,
    *,
    task_id: str = "task-1",
    cancelled: Callable[[], bool] = lambda: False,
) -> tuple[ChildResult, list[str]]:
    """The task's outcome and the lines it logged."""
    messages: list[tuple[Any, ...]] = []
    spec = TaskSpec(
        run_id=str(uuid.uuid4()),
        job_id="job-1",
        task_id=task_id,
        task_order=1,
        extractor_config=extractor,
        loader_config=loader,
        data_dir=str(data_dir),
    )
    result = run_task(spec, _Reporter(messages.append), cancelled)
    return result, [str(m[2]) for m in messages if m[0] == "log"]


def pg_rows(engine: sa.engine.Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f'SELECT * FROM "{table}" ORDER BY 1'))]


def make_source(engine: sa.engine.Engine, rows: list[tuple[Any, ...]] = ROWS) -> str:
    name = table_name()
    with engine.begin() as conn:
        conn.execute(sa.text(TYPED_DDL.format(name=f'"{name}"')))
        for row in rows:
            conn.execute(
                sa.text(f'INSERT INTO "{name}" VALUES (:a,:b,:c,:d,:e,:f,:g,:h,:i)'),
                dict(zip("abcdefghi", row, strict=True)),
            )
    return name


def test_postgres_to_postgres_keeps_every_type(
    pg: sa.engine.Engine, pg_url: str, tmp_path: Path
) -> None:
    source, dest = make_source(pg), table_name()
    result = run(
        {"type": "sql", "url": pg_url, "table": source},
        {"type": "postgres", "url": pg_url, "table": dest},
        tmp_path,
    )
    assert result.status == "success", result.error_message
    assert (result.rows_extracted, result.rows_loaded) == (3, 3)
    assert pg_rows(pg, dest) == ROWS
    with pg.connect() as conn:
        types = dict(
            conn.execute(
                sa.text(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = :t"
                ),
                {"t": dest},
            ).all()
        )
    assert types["amount"] == "numeric"
    assert types["updated_at"] == "timestamp with time zone"
    assert types["created_date"] == "date"
    assert types["qty"] == "integer"


def test_postgres_to_sqlite_and_back(pg: sa.engine.Engine, pg_url: str, tmp_path: Path) -> None:
    source, back = make_source(pg), table_name()
    to_sqlite = run(
        {"type": "sql", "url": pg_url, "table": source},
        {"type": "sqlite", "path": "out.db", "table": "copy"},
        tmp_path,
    )
    assert to_sqlite.status == "success", to_sqlite.error_message
    from_sqlite = run(
        {"type": "sql", "url": "sqlite:///out.db", "table": "copy"},
        {"type": "postgres", "url": pg_url, "table": back},
        tmp_path,
    )
    assert from_sqlite.status == "success", from_sqlite.error_message
    assert pg_rows(pg, back) == ROWS


def test_replace_is_atomic_and_a_failed_load_changes_nothing(
    pg: sa.engine.Engine, pg_url: str, tmp_path: Path
) -> None:
    dest = table_name()
    first = run(
        {"type": "generate", "rows": 5},
        {"type": "postgres", "url": pg_url, "table": dest},
        tmp_path,
    )
    assert first.status == "success", first.error_message
    before = pg_rows(pg, dest)
    failed = run(
        {"type": "generate", "rows": 50, "batch_size": 10, "fail_after_rows": 30},
        {"type": "postgres", "url": pg_url, "table": dest, "mode": "replace"},
        tmp_path,
    )
    assert failed.status == "failed"
    assert pg_rows(pg, dest) == before
    replaced = run(
        {"type": "generate", "rows": 7, "seed": 3},
        {"type": "postgres", "url": pg_url, "table": dest, "mode": "replace"},
        tmp_path,
    )
    assert replaced.status == "success", replaced.error_message
    assert len(pg_rows(pg, dest)) == 7
    assert staging_tables_left(pg, dest) == 0


def test_append_failure_midway_leaves_the_table_unchanged(
    pg: sa.engine.Engine, pg_url: str, tmp_path: Path
) -> None:
    dest = table_name()
    run(
        {"type": "generate", "rows": 3},
        {"type": "postgres", "url": pg_url, "table": dest},
        tmp_path,
    )
    failed = run(
        {"type": "generate", "rows": 100, "batch_size": 10, "fail_after_rows": 50},
        {"type": "postgres", "url": pg_url, "table": dest},
        tmp_path,
    )
    assert failed.status == "failed"
    assert "task 1 (generate → postgres)" in (failed.error_message or "")
    assert len(pg_rows(pg, dest)) == 3


def test_merge_upserts_on_key(pg: sa.engine.Engine, pg_url: str, tmp_path: Path) -> None:
    source = make_source(pg)
    dest = table_name()
    loader = {"type": "postgres", "url": pg_url, "table": dest, "mode": "merge", "key": ["id"]}
    assert (
        run({"type": "sql", "url": pg_url, "table": source}, loader, tmp_path).status == "success"
    )
    with pg.begin() as conn:
        conn.execute(sa.text(f'UPDATE "{source}" SET qty = 99 WHERE id = 1'))
        conn.execute(sa.text(f'INSERT INTO "{source}" (id, qty) VALUES (4, 4)'))
    again = run({"type": "sql", "url": pg_url, "table": source}, loader, tmp_path)
    assert again.status == "success", again.error_message
    rows = pg_rows(pg, dest)
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    assert rows[0][1] == 99


def test_merge_refuses_null_keys(pg: sa.engine.Engine, pg_url: str, tmp_path: Path) -> None:
    source = make_source(pg, [*ROWS, (None, 1, None, None, None, None, None, None, None)])
    result = run(
        {"type": "sql", "url": pg_url, "table": source},
        {"type": "postgres", "url": pg_url, "table": table_name(), "mode": "merge", "key": ["id"]},
        tmp_path,
    )
    assert result.status == "failed"
    assert "null" in (result.error_message or "").lower()


def test_new_source_columns_are_added_as_nullable(
    pg: sa.engine.Engine, pg_url: str, tmp_path: Path
) -> None:
    dest = table_name()
    with pg.begin() as conn:
        conn.execute(sa.text(f'CREATE TABLE "{dest}" (id bigint NOT NULL, label text)'))
    ok = run(
        {"type": "generate", "rows": 2},
        {"type": "postgres", "url": pg_url, "table": dest},
        tmp_path,
    )
    assert ok.status == "success", ok.error_message
    with pg.connect() as conn:
        columns = conn.execute(
            sa.text(
                "SELECT column_name, is_nullable, data_type FROM information_schema.columns "
                "WHERE table_name = :t ORDER BY ordinal_position"
            ),
            {"t": dest},
        ).all()
    assert [tuple(c) for c in columns] == [
        ("id", "NO", "bigint"),
        ("label", "YES", "text"),
        ("value", "YES", "double precision"),
        ("ts", "YES", "timestamp with time zone"),
    ]


def test_type_conflict_fails_with_both_types(
    pg: sa.engine.Engine, pg_url: str, tmp_path: Path
) -> None:
    dest = table_name()
    with pg.begin() as conn:
        conn.execute(sa.text(f'CREATE TABLE "{dest}" (id bigint, value date)'))
    result = run(
        {"type": "generate", "rows": 2},
        {"type": "postgres", "url": pg_url, "table": dest},
        tmp_path,
    )
    assert result.status == "failed"
    message = result.error_message or ""
    assert "column 'value'" in message
    assert "date" in message
    assert "double" in message
    assert pg_rows(pg, dest) == []


def test_incremental_loads_each_row_exactly_once(
    pg: sa.engine.Engine, pg_url: str, tmp_path: Path
) -> None:
    source, dest = make_source(pg), table_name()
    extractor = {"type": "sql", "url": pg_url, "table": source, "cursor_column": "id"}
    loader = {"type": "postgres", "url": pg_url, "table": dest}
    assert run(extractor, loader, tmp_path).rows_loaded == 3
    assert run(extractor, loader, tmp_path).rows_loaded == 0, "nothing new: nothing loaded"
    with pg.begin() as conn:
        conn.execute(sa.text(f'INSERT INTO "{source}" (id, qty) VALUES (4, 1), (5, 2)'))
    assert run(extractor, loader, tmp_path).rows_loaded == 2
    assert [r[0] for r in pg_rows(pg, dest)] == [1, 2, 3, 4, 5]
    with pg.connect() as conn:
        stored = conn.execute(sa.text("SELECT cursor_value FROM orc_cursor_state")).scalars().all()
    assert any('"value": 5' in s for s in stored)


def test_a_numeric_cursor_orders_by_number_not_by_the_text_it_travels_as(
    pg: sa.engine.Engine, pg_url: str, tmp_path: Path
) -> None:
    """numeric columns are sent as text for speed; the cursor must still compare numbers."""
    source, dest = table_name(), table_name()
    with pg.begin() as conn:
        conn.execute(sa.text(f'CREATE TABLE "{source}" (seq numeric(10,1), note text)'))
        conn.execute(sa.text(f"INSERT INTO \"{source}\" VALUES (9.5, 'a'), (10.0, 'b')"))
    extractor = {"type": "sql", "url": pg_url, "table": source, "cursor_column": "seq"}
    loader = {"type": "postgres", "url": pg_url, "table": dest}
    assert run(extractor, loader, tmp_path).rows_loaded == 2
    with pg.begin() as conn:
        # As text '9.7' > '10.0' > '100.0'; as numbers only 100.0 is past the cursor (10.0).
        conn.execute(sa.text(f"INSERT INTO \"{source}\" VALUES (9.7, 'late'), (100.0, 'c')"))
    second = run(extractor, loader, tmp_path)
    assert second.rows_loaded == 1
    assert pg_rows(pg, dest) == [
        (Decimal("9.5"), "a"),
        (Decimal("10.0"), "b"),
        (Decimal("100.0"), "c"),
    ]


def test_a_query_with_numeric_columns_under_one_name_still_extracts(
    pg_url: str, tmp_path: Path
) -> None:
    """Two output columns named alike cannot be cast by name: sent as the driver reads them."""
    result = run(
        {"type": "sql", "url": pg_url, "query": "SELECT 1.5::numeric(4,1) AS n, 2.25 AS n"},
        {"type": "null"},
        tmp_path,
    )
    assert result.status == "success", result.error_message
    assert (result.rows_extracted, result.rows_loaded) == (1, 1)


def test_incremental_into_sqlite(pg: sa.engine.Engine, pg_url: str, tmp_path: Path) -> None:
    source = make_source(pg)
    extractor = {"type": "sql", "url": pg_url, "table": source, "cursor_column": "updated_at"}
    loader = {"type": "sqlite", "path": "inc.db", "table": "events"}
    assert run(extractor, loader, tmp_path).rows_loaded == 3
    with pg.begin() as conn:
        conn.execute(
            sa.text(f"INSERT INTO \"{source}\" (id, updated_at) VALUES (9, '2030-01-01T00:00:00Z')")
        )
    assert run(extractor, loader, tmp_path).rows_loaded == 1
    with sqlite3.connect(tmp_path / "inc.db") as conn:
        ids = sorted(r[0] for r in conn.execute("SELECT id FROM events"))
    assert ids == [1, 2, 3, 9]


def test_incremental_needs_a_stateful_loader(
    pg: sa.engine.Engine, pg_url: str, tmp_path: Path
) -> None:
    source = make_source(pg)
    result = run(
        {"type": "sql", "url": pg_url, "table": source, "cursor_column": "id"},
        {"type": "null"},
        tmp_path,
    )
    assert result.status == "failed"
    assert "postgres or sqlite" in (result.error_message or "")


def test_exactly_once_when_the_executor_is_killed_mid_load(
    pg: sa.engine.Engine, pg_url: str, tmp_path: Path
) -> None:
    source, dest = table_name(), table_name()
    with pg.begin() as conn:
        conn.execute(
            sa.text(
                f'CREATE TABLE "{source}" AS SELECT g AS id, md5(g::text) AS v '
                "FROM generate_series(1, 1000000) g"
            )
        )
    extractor = {
        "type": "sql",
        "url": pg_url,
        "table": source,
        "cursor_column": "id",
        "batch_size": 200,
    }
    loader = {"type": "postgres", "url": pg_url, "table": dest}

    async def killed_midway() -> str:
        async with ExecutorPool(1) as pool:
            spec = TaskSpec(
                run_id="r",
                job_id="job-k",
                task_id="task-k",
                task_order=1,
                extractor_config=extractor,
                loader_config=loader,
                data_dir=str(tmp_path),
            )
            progress: list[int] = []

            def on_event(event: Any) -> None:
                if getattr(event, "kind", "") == "progress":
                    progress.append(event.rows_extracted)

            task = asyncio.create_task(pool.run_task(spec, on_event=on_event))
            while not progress or progress[-1] < 5_000:
                await asyncio.sleep(0.01)
                if task.done():
                    break
            import os
            import signal

            for pid in pool.pids:
                os.kill(pid, signal.SIGKILL)
            outcome = await task
            return outcome.status

    status = asyncio.run(killed_midway())
    assert status == "failed"
    if _exists(pg, dest):  # the kill may land after the commit, never inside it
        with pg.connect() as conn:
            loaded = conn.execute(sa.text(f'SELECT count(*) FROM "{dest}"')).scalar()
        assert loaded in (0, 1_000_000), f"a killed load left {loaded} rows: not atomic"
    finished = run(extractor, loader, tmp_path, task_id="task-k")
    assert finished.status == "success", finished.error_message
    with pg.connect() as conn:
        count, distinct = conn.execute(
            sa.text(f'SELECT count(*), count(DISTINCT id) FROM "{dest}"')
        ).one()
    assert (count, distinct) == (1_000_000, 1_000_000)


def staging_tables_left(engine: sa.engine.Engine, table: str) -> int:
    """Staging tables of `table` (replace and merge load into `<table>__orc_<id>`) still there."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT count(*) FROM pg_tables WHERE tablename LIKE :p"),
                {"p": f"{table}__orc_%"},
            ).scalar()
            or 0
        )


def _exists(engine: sa.engine.Engine, table: str) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                sa.text("SELECT to_regclass(:t) IS NOT NULL"), {"t": f'"{table}"'}
            ).scalar()
        )


@pytest.mark.parametrize("table", ["t; DROP TABLE users", 'x"y', "a.b.c", "1abc", ""])
def test_table_names_are_validated(table: str, pg_url: str, tmp_path: Path) -> None:
    result = run(
        {"type": "generate", "rows": 1},
        {"type": "postgres", "url": pg_url, "table": table},
        tmp_path,
    )
    assert result.status == "failed"
    assert "table: " in (result.error_message or "")
    assert "is not a table name" in (result.error_message or "")


def test_secret_reference_resolves_and_never_shows(
    pg: sa.engine.Engine, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQL_TEST_DEST_URL", pg_url)
    dest = table_name()
    ok = run(
        {"type": "generate", "rows": 2},
        {"type": "postgres", "url": "${env:SQL_TEST_DEST_URL}", "table": dest},
        tmp_path,
    )
    assert ok.status == "success", ok.error_message
    bad_url = pg_url.replace("postgres@", "postgres:hunter2secret@").rsplit("/", 1)[0] + "/nope_db"
    monkeypatch.setenv("SQL_TEST_BAD_URL", bad_url)
    failed = run(
        {"type": "generate", "rows": 2},
        {"type": "postgres", "url": "${env:SQL_TEST_BAD_URL}", "table": dest},
        tmp_path,
    )
    assert failed.status == "failed"
    assert "hunter2secret" not in (failed.error_message or "")
    missing = run(
        {"type": "generate", "rows": 2},
        {"type": "postgres", "url": "${env:NOT_SET_ANYWHERE}", "table": dest},
        tmp_path,
    )
    assert "NOT_SET_ANYWHERE" in (missing.error_message or "")


def test_sqlite_loader_modes(tmp_path: Path) -> None:
    loader = {"type": "sqlite", "path": "db/modes.db", "table": "t"}
    assert run({"type": "generate", "rows": 5}, loader, tmp_path).status == "success"
    assert run({"type": "generate", "rows": 5}, loader, tmp_path).status == "success"
    failed = run(
        {"type": "generate", "rows": 20, "batch_size": 5, "fail_after_rows": 10},
        {**loader, "mode": "replace"},
        tmp_path,
    )
    assert failed.status == "failed"
    with sqlite3.connect(tmp_path / "db/modes.db") as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 10
    merged = run(
        {"type": "generate", "rows": 7}, {**loader, "mode": "merge", "key": ["id"]}, tmp_path
    )
    assert merged.status == "success", merged.error_message
    with sqlite3.connect(tmp_path / "db/modes.db") as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT id) FROM t").fetchone() == (7, 7)
    replaced = run({"type": "generate", "rows": 2}, {**loader, "mode": "replace"}, tmp_path)
    assert replaced.status == "success", replaced.error_message
    with sqlite3.connect(tmp_path / "db/modes.db") as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2


@pytest.mark.parametrize("path", ["../outside.db", "/etc/passwd.db"])
def test_sqlite_paths_stay_in_the_data_dir(path: str, tmp_path: Path) -> None:
    result = run(
        {"type": "generate", "rows": 1},
        {"type": "sqlite", "path": path, "table": "t"},
        tmp_path / "data",
    )
    assert result.status == "failed"
    assert "outside the data directory" in (result.error_message or "")


# --- PostgreSQL → PostgreSQL as undecoded binary COPY data ----------------------------------
COPIED = "as binary COPY data, undecoded"


def declared_types(engine: sa.engine.Engine, table: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = to_regclass(:t) AND attnum > 0 AND NOT attisdropped "
                "ORDER BY attnum"
            ),
            {"t": f'"{table}"'},
        ).all()
    return [(str(name), str(declared)) for name, declared in rows]


def test_postgres_to_postgres_copies_undecoded_and_keeps_the_declared_types(
    pg: sa.engine.Engine, pg_url: str, tmp_path: Path
) -> None:
    """Types Arrow has no exact twin for (varchar(n), jsonb, uuid, arrays, interval) arrive
    as they were declared, value for value."""
    source, dest = table_name(), table_name()
    with pg.begin() as conn:
        conn.execute(
            sa.text(
                f'CREATE TABLE "{source}" (id int, tag varchar(12), doc jsonb, ref uuid, '
                "nums int[], span interval, amount numeric(12,2), at timestamptz)"
            )
        )
        conn.execute(
            sa.text(
                f'INSERT INTO "{source}" VALUES '
                "(1, 'Grüße ''q''', '{\"a\": [1, \"é\"]}', "
                "'0b0c1f4e-6a2e-4f6e-9b8e-0a1b2c3d4e5f', '{1,NULL,3}', '1 day 02:03:04', "
                "-1234567890.12, '2024-02-29 12:00:00+05'), "
                "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
            )
        )
    result, logged = run_logged(
        {"type": "sql", "url": pg_url, "table": source},
        {"type": "postgres", "url": pg_url, "table": dest},
        tmp_path,
    )
    assert result.status == "success", result.error_message
    assert (result.rows_extracted, result.rows_loaded) == (2, 2)
    assert result.bytes_loaded > 0
    assert any(COPIED in line for line in logged), logged
    assert declared_types(pg, dest) == declared_types(pg, source)
    with pg.connect() as conn:
        differing = conn.execute(
            sa.text(
                f'(SELECT * FROM "{source}" EXCEPT ALL SELECT * FROM "{dest}") '
                f'UNION ALL (SELECT * FROM "{dest}" EXCEPT ALL SELECT * FROM "{source}")'
            )
        ).all()
    assert differing == []


def test_a_destination_column_of_another_type_takes_the_arrow_path(
    pg: sa.engine.Engine, pg_url: str, tmp_path: Path
) -> None:
    source, dest = make_source(pg), table_name()
    with pg.begin() as conn:  # qty is integer in the source: binary data would not fit
        conn.execute(sa.text(f'CREATE TABLE "{dest}" (id bigint, qty bigint)'))
    result, logged = run_logged(
        {"type": "sql", "url": pg_url, "table": source},
        {"type": "postgres", "url": pg_url, "table": dest},
        tmp_path,
    )
    assert result.status == "success", result.error_message
    assert not any(COPIED in line for line in logged), logged
    assert pg_rows(pg, dest) == ROWS
    assert declared_types(pg, dest)[:2] == [("id", "bigint"), ("qty", "bigint")]


@pytest.mark.parametrize("mode", ["append", "replace"])
def test_a_source_failing_midway_leaves_the_destination_as_it_was(
    mode: str, pg: sa.engine.Engine, pg_url: str, tmp_path: Path
) -> None:
    """The error comes after hundreds of thousands of rows went into the COPY."""
    dest = table_name()
    query = "SELECT g AS id, md5(g::text) AS v FROM generate_series(1, {n}) g"
    loader = {"type": "postgres", "url": pg_url, "table": dest, "mode": mode}
    first = run({"type": "sql", "url": pg_url, "query": query.format(n=3)}, loader, tmp_path)
    assert first.status == "success", first.error_message
    before = pg_rows(pg, dest)
    failing = "SELECT g AS id, md5((g / (g - 400000))::text) AS v FROM generate_series(1, 500000) g"
    result, logged = run_logged({"type": "sql", "url": pg_url, "query": failing}, loader, tmp_path)
    assert result.status == "failed"
    assert any(COPIED in line for line in logged), logged
    assert "division by zero" in (result.error_message or "")
    assert pg_rows(pg, dest) == before
    assert staging_tables_left(pg, dest) == 0


def test_a_copy_cancelled_midway_changes_nothing(
    pg: sa.engine.Engine, pg_url: str, tmp_path: Path
) -> None:
    dest = table_name()
    asked: list[int] = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 3  # a few pieces in, well before the end of 500,000 rows

    result, logged = run_logged(
        {
            "type": "sql",
            "url": pg_url,
            "query": "SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 500000) g",
        },
        {"type": "postgres", "url": pg_url, "table": dest},
        tmp_path,
        cancelled=cancelled,
    )
    assert result.status == "cancelled", result.error_message
    assert any(COPIED in line for line in logged), logged
    assert 0 < result.rows_extracted < 500_000
    assert not _exists(pg, dest)


@pytest.mark.parametrize(
    ("column", "values", "later"),
    [
        ("code", ["a'b", "b\\'c", "c"], ["d'", "e\"'); DROP TABLE x; --"]),
        ("updated_at", ["2024-01-01T00:00:00Z", "2024-06-01T00:00:00+02:00"], ["2031-01-01Z"]),
        ("amount", ["9.50", "10.00"], ["100.25"]),
    ],
)
def test_incremental_copies_quote_the_cursor_as_a_literal_of_its_type(
    column: str,
    values: list[str],
    later: list[str],
    pg: sa.engine.Engine,
    pg_url: str,
    tmp_path: Path,
) -> None:
    """COPY takes no parameters: the cursor travels as a quoted literal, never spliced."""
    source, dest = table_name(), table_name()
    with pg.begin() as conn:
        conn.execute(sa.text(TYPED_DDL.format(name=f'"{source}"')))
        for i, value in enumerate(values):
            conn.execute(
                sa.text(f'INSERT INTO "{source}" (id, "{column}") VALUES (:i, :v)'),
                {"i": i, "v": value},
            )
    extractor = {"type": "sql", "url": pg_url, "table": source, "cursor_column": column}
    loader = {"type": "postgres", "url": pg_url, "table": dest}
    first, logged = run_logged(extractor, loader, tmp_path)
    assert first.status == "success", first.error_message
    assert any(COPIED in line for line in logged), logged
    assert first.rows_loaded == len(values)
    assert run(extractor, loader, tmp_path).rows_loaded == 0
    with pg.begin() as conn:
        for i, value in enumerate(later, start=100):
            conn.execute(
                sa.text(f'INSERT INTO "{source}" (id, "{column}") VALUES (:i, :v)'),
                {"i": i, "v": value},
            )
    again = run(extractor, loader, tmp_path)
    assert again.status == "success", again.error_message
    assert again.rows_loaded == len(later)
    assert sorted(r[0] for r in pg_rows(pg, dest)) == [
        *range(len(values)),
        *range(100, 100 + len(later)),
    ]


def test_an_empty_source_creates_the_table_with_its_declared_columns(
    pg: sa.engine.Engine, pg_url: str, tmp_path: Path
) -> None:
    source, dest = make_source(pg, []), table_name()
    result, logged = run_logged(
        {"type": "sql", "url": pg_url, "table": source},
        {"type": "postgres", "url": pg_url, "table": dest},
        tmp_path,
    )
    assert result.status == "success", result.error_message
    assert (result.rows_extracted, result.rows_loaded) == (0, 0)
    assert any(COPIED in line for line in logged), logged
    assert declared_types(pg, dest) == declared_types(pg, source)
    assert pg_rows(pg, dest) == []


def test_a_type_of_the_source_database_own_takes_the_arrow_path(
    pg: sa.engine.Engine, pg_url: str, tmp_path: Path
) -> None:
    """An enum exists in its own database only: its binary form would not load elsewhere."""
    source, dest, mood = table_name(), table_name(), f"mood_{uuid.uuid4().hex[:8]}"
    with pg.begin() as conn:
        conn.execute(sa.text(f"CREATE TYPE {mood} AS ENUM ('sad', 'happy')"))
        conn.execute(sa.text(f'CREATE TABLE "{source}" (id int, feeling {mood})'))
        conn.execute(sa.text(f"INSERT INTO \"{source}\" VALUES (1, 'happy'), (2, NULL)"))
    result, logged = run_logged(
        {"type": "sql", "url": pg_url, "table": source},
        {"type": "postgres", "url": pg_url, "table": dest},
        tmp_path,
    )
    assert result.status == "success", result.error_message
    assert not any(COPIED in line for line in logged), logged
    assert pg_rows(pg, dest) == [(1, "happy"), (2, None)]


def test_a_query_with_two_columns_of_one_name_takes_the_arrow_path(
    pg_url: str, tmp_path: Path
) -> None:
    result, logged = run_logged(
        {"type": "sql", "url": pg_url, "query": "SELECT 1 AS n, 2 AS n"},
        {"type": "postgres", "url": pg_url, "table": table_name()},
        tmp_path,
    )
    assert not any(COPIED in line for line in logged), logged
    assert result.status == "failed"  # a table cannot have two columns named alike
    assert 'column "n" specified more than once' in (result.error_message or "")
