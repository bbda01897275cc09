"""Round-trip adapters: how the contract suite drives each registered plugin.

Every registered extractor and loader must have an adapter (a test checks it). An adapter
knows only how to reach its plugin's outside world; the tests in `test_contract.py` are the
same for every plugin. The file formats' adapters are below; any other plugin adds a module
`tests/contract/adapters_<name>.py` (imported at the end of this file) that subclasses and
registers, e.g. for a table loader:

    from tests.contract.conftest import ContractEnv, LoaderAdapter, register

    @register
    class SqliteLoaderAdapter(LoaderAdapter):
        name = "sqlite"
        keeps_order = False  # a table: rows are compared sorted

        def config(self, env: ContractEnv) -> dict[str, Any]:
            # a fresh destination; use env.name to keep tests apart
            return {"type": "sqlite", "path": "db.sqlite", "table": env.name, "mode": "replace"}

        def read_back(self, config: dict[str, Any], env: ContractEnv, schema: pa.Schema
                      ) -> pa.Table:
            # what the destination holds now, as Arrow, cast to `schema` where the
            # destination cannot keep a type (SQLite has no decimal or timestamp)
            ...

        def snapshot(self, config: dict[str, Any], env: ContractEnv) -> object:
            # anything comparable with ==, changing whenever the destination changes at all
            ...

and for an extractor, write the given table into the source and say how to extract it:

    @register
    class HttpExtractorAdapter(ExtractorAdapter):
        name = "http"

        def source(self, table: pa.Table, env: ContractEnv, *, batch_rows: int) -> Source:
            server = env.cleanup.enter_context(serve_json(table, page_size=batch_rows))
            return Source({"type": "http", "url": server.url, "records_path": "items",
                           "columns": {f.name: str(f.type) for f in table.schema}}, table)

Resources an adapter opens (servers, databases) go on `env.cleanup`, closed after the test;
ones too slow to open per test (a PostgreSQL database) come from `env.shared.get(key, open)`,
opened on first use and closed at the end of the session.
Adapters that need a service not available here call `pytest.skip` (the CI run fails skips).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import importlib
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pyarrow.csv as pacsv  # type: ignore[import-untyped,unused-ignore]
import pyarrow.json as pajson  # type: ignore[import-untyped,unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]
import pytest

from orcrustator.plugins import registry
from orcrustator.plugins.base import (
    Extractor,
    Loader,
    LoadResult,
    PluginKind,
    RunContext,
)
from orcrustator.plugins.builtin.generate import make_batch
from orcrustator.plugins.paths import DATA_DIR_CONTEXT_KEY


# --- what tests and adapters share -------------------------------------------------------
@dataclass
class ContractEnv:
    """One test's world: a data directory, a unique name, and cleanups run after the test."""

    data_dir: Path
    name: str
    cleanup: ExitStack
    shared: Shared


SharedT = TypeVar("SharedT")


class Shared:
    """Resources the whole session shares (a database is slow to create), closed at its end."""

    def __init__(self, cleanup: ExitStack) -> None:
        self.cleanup = cleanup
        self._opened: dict[str, Any] = {}

    def get(self, key: str, open_: Callable[[ExitStack], SharedT]) -> SharedT:
        """`open_(cleanup)` on first use (what it puts on `cleanup` runs after the session)."""
        if key not in self._opened:
            self._opened[key] = open_(self.cleanup)
        value: SharedT = self._opened[key]
        return value


class Probe:
    """A RunContext that records what the plugin reports and can be cancelled on demand."""

    def __init__(self, data_dir: Path) -> None:
        self.logs: list[tuple[str, str]] = []
        self.progress: list[tuple[int, int, int]] = []
        self.cancel = False
        self.ctx = RunContext(
            run_id="run-contract",
            job_id="job-contract",
            task_id="task-contract",
            task_order=1,
            data_dir=data_dir,
            log=lambda level, message: self.logs.append((level, message)),
            progress=lambda e, lo, b: self.progress.append((e, lo, b)),
            cancelled=lambda: self.cancel,
        )


@dataclass(frozen=True)
class Source:
    """An extractor config reading a prepared source, and the table it must produce."""

    config: dict[str, Any]
    expected: pa.Table


class ExtractorAdapter(ABC):
    name: ClassVar[str]

    @abstractmethod
    def source(self, table: pa.Table, env: ContractEnv, *, batch_rows: int) -> Source:
        """Put `table` in a fresh source; batches of about `batch_rows` rows if configurable.

        A source that cannot hold arbitrary data (a generator) returns what it will produce
        for `table.num_rows` rows as `expected` instead.
        """


class LoaderAdapter(ABC):
    name: ClassVar[str]
    keeps_data: ClassVar[bool] = True
    """False for a loader that only counts (null): then only LoadResult is checked."""
    keeps_order: ClassVar[bool] = True
    """False for a table loader: rows are then compared sorted."""

    @abstractmethod
    def config(self, env: ContractEnv) -> dict[str, Any]:
        """A loader config for a fresh destination (which need not exist yet)."""

    def read_back(self, config: dict[str, Any], env: ContractEnv, schema: pa.Schema) -> pa.Table:
        """What the destination holds, with `schema`'s types (cast where it cannot keep them)."""
        raise NotImplementedError

    @abstractmethod
    def snapshot(self, config: dict[str, Any], env: ContractEnv) -> object:
        """The destination's whole state, comparable with == (leftovers included)."""


EXTRACTORS: dict[str, ExtractorAdapter] = {}
LOADERS: dict[str, LoaderAdapter] = {}
AdapterT = TypeVar("AdapterT", bound=type[ExtractorAdapter] | type[LoaderAdapter])


def register(cls: AdapterT) -> AdapterT:
    """Class decorator: make the suite run its plugin through every contract test."""
    adapter = cls()
    if isinstance(adapter, ExtractorAdapter):
        EXTRACTORS[adapter.name] = adapter
    else:
        LOADERS[adapter.name] = adapter
    return cls


@pytest.fixture(scope="session")
def shared() -> Iterator[Shared]:
    with ExitStack() as cleanup:
        yield Shared(cleanup)


@pytest.fixture
def env(tmp_path: Path, shared: Shared) -> Iterator[ContractEnv]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with ExitStack() as cleanup:
        name = f"t_{uuid.uuid4().hex[:10]}"
        yield ContractEnv(data_dir=data_dir, name=name, cleanup=cleanup, shared=shared)


# --- running plugins the way the runner does ---------------------------------------------
def build(kind: PluginKind, config: dict[str, Any], ctx: RunContext) -> Any:
    """Validate with the data-dir context (as at run time) and call the spec's factory."""
    model = registry.validate_config(kind, config, context={DATA_DIR_CONTEXT_KEY: ctx.data_dir})
    plugin = registry.get_spec(kind, model.type).factory(model, ctx)
    assert isinstance(plugin, Extractor if kind == "extractor" else Loader)
    return plugin


def runner_stream(batches: Iterator[pa.RecordBatch], probe: Probe) -> Iterator[pa.RecordBatch]:
    """What the runner puts between extractor and loader: cancellation checks around batches."""
    for batch in batches:
        probe.ctx.raise_if_cancelled()
        yield batch
    probe.ctx.raise_if_cancelled()


def run_pipeline(
    extractor_config: dict[str, Any], loader_config: dict[str, Any], probe: Probe
) -> LoadResult:
    extractor = build("extractor", extractor_config, probe.ctx)
    loader = build("loader", loader_config, probe.ctx)
    probe.ctx.target_schema = loader.target_schema()
    stream = runner_stream(extractor.batches(), probe)
    try:
        result: LoadResult = loader.load(stream)
    finally:
        stream.close()  # type: ignore[attr-defined]
    return result


def extract_all(config: dict[str, Any], probe: Probe) -> list[pa.RecordBatch]:
    return list(build("extractor", config, probe.ctx).batches())


# --- file adapters -----------------------------------------------------------------------
def declared_types(schema: pa.Schema) -> dict[str, str]:
    """The `columns` option naming every column's type, for formats that cannot keep it."""
    return {f.name: str(f.type) for f in schema}


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def csv_read_options(schema: pa.Schema) -> dict[str, Any]:
    return {
        "parse_options": pacsv.ParseOptions(newlines_in_values=True),
        "convert_options": pacsv.ConvertOptions(
            column_types=schema,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    }


def read_jsonl(path: Path, schema: pa.Schema) -> pa.Table:
    """pyarrow's JSON reader with `schema`; dates and times (from strings) cast after."""
    as_read = pa.schema(
        [
            f.with_type(pa.string()) if pa.types.is_date(f.type) or pa.types.is_time(f.type) else f
            for f in schema
        ]
    )
    options = pajson.ParseOptions(explicit_schema=as_read, unexpected_field_behavior="error")
    return pajson.read_json(path, parse_options=options).cast(schema)


class FileLoaderAdapter(LoaderAdapter):
    suffix: ClassVar[str]

    def path(self, config: dict[str, Any], env: ContractEnv) -> Path:
        return env.data_dir / str(config["path"])

    def config(self, env: ContractEnv) -> dict[str, Any]:
        return {"type": self.name, "path": f"out/{env.name}.{self.suffix}"}

    def snapshot(self, config: dict[str, Any], env: ContractEnv) -> object:
        path = self.path(config, env)
        content = path.read_bytes() if path.exists() else None
        listing = sorted(p.name for p in path.parent.iterdir()) if path.parent.exists() else []
        return content, listing

    def read_back(self, config: dict[str, Any], env: ContractEnv, schema: pa.Schema) -> pa.Table:
        path = self.path(config, env)
        if path.stat().st_size == 0:  # no batch at all: an empty file
            return schema.empty_table()
        return self.read_file(path, schema)

    @abstractmethod
    def read_file(self, path: Path, schema: pa.Schema) -> pa.Table: ...


@register
class CsvLoaderAdapter(FileLoaderAdapter):
    name = "csv"
    suffix = "csv"

    def read_file(self, path: Path, schema: pa.Schema) -> pa.Table:
        return pacsv.read_csv(path, **csv_read_options(schema))


@register
class JsonlLoaderAdapter(FileLoaderAdapter):
    name = "jsonl"
    suffix = "jsonl"

    def read_file(self, path: Path, schema: pa.Schema) -> pa.Table:
        return read_jsonl(path, schema)


@register
class ParquetLoaderAdapter(FileLoaderAdapter):
    name = "parquet"
    suffix = "parquet"

    def read_file(self, path: Path, schema: pa.Schema) -> pa.Table:
        return pq.read_table(path)


@register
class NullLoaderAdapter(LoaderAdapter):
    name = "null"
    keeps_data = False

    def config(self, env: ContractEnv) -> dict[str, Any]:
        return {"type": "null"}

    def snapshot(self, config: dict[str, Any], env: ContractEnv) -> object:
        return None


class FileExtractorAdapter(ExtractorAdapter):
    suffix: ClassVar[str]

    def source(self, table: pa.Table, env: ContractEnv, *, batch_rows: int) -> Source:
        relative = f"in/{env.name}.{self.suffix}"
        path = env.data_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        options = self.write(table, path, batch_rows)
        return Source({"type": self.name, "path": relative, **options}, table)

    @abstractmethod
    def write(self, table: pa.Table, path: Path, batch_rows: int) -> dict[str, Any]:
        """Write `table` to `path` (independently of the plugin); return extractor options."""


def _block_size(path: Path, rows: int, batch_rows: int) -> int:
    per_row = path.stat().st_size / max(rows, 1)
    return max(1024, int(per_row * batch_rows))


@register
class CsvExtractorAdapter(FileExtractorAdapter):
    name = "csv"
    suffix = "csv"

    def write(self, table: pa.Table, path: Path, batch_rows: int) -> dict[str, Any]:
        pacsv.write_csv(table, path)
        block_size = _block_size(path, table.num_rows, batch_rows)
        return {"columns": declared_types(table.schema), "block_size": block_size}


@register
class JsonlExtractorAdapter(FileExtractorAdapter):
    name = "jsonl"
    suffix = "jsonl"

    def write(self, table: pa.Table, path: Path, batch_rows: int) -> dict[str, Any]:
        with path.open("w", encoding="utf-8") as out:
            for batch in table.to_batches(max_chunksize=4096):
                for row in batch.to_pylist():
                    out.write(json.dumps(row, ensure_ascii=False, default=_json_value) + "\n")
        block_size = _block_size(path, table.num_rows, batch_rows)
        return {"columns": declared_types(table.schema), "block_size": block_size}


@register
class ParquetExtractorAdapter(FileExtractorAdapter):
    name = "parquet"
    suffix = "parquet"

    def write(self, table: pa.Table, path: Path, batch_rows: int) -> dict[str, Any]:
        pq.write_table(table, path, row_group_size=max(batch_rows, 1))
        return {"batch_size": batch_rows}


@register
class GenerateExtractorAdapter(ExtractorAdapter):
    """`generate` cannot hold given data: it produces its own, as many rows as asked."""

    name = "generate"

    def source(self, table: pa.Table, env: ContractEnv, *, batch_rows: int) -> Source:
        expected = pa.Table.from_batches([make_batch(0, table.num_rows)])
        config = {"type": "generate", "rows": table.num_rows, "batch_size": batch_rows}
        return Source(config, expected)


# --- the data every round trip carries ---------------------------------------------------
TYPED_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("small", pa.int32()),
        ("ratio", pa.float64()),
        ("amount", pa.decimal128(12, 2)),
        ("label", pa.string()),
        ("flag", pa.bool_()),
        ("day", pa.date32()),
        ("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)
_UTC = dt.UTC
_D = decimal.Decimal
_TRICKY_ROWS: list[tuple[Any, ...]] = [
    (1, 7, 0.1, _D("12.34"), "Grüße 🌍", True, dt.date(2024, 2, 29),
     dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=_UTC)),
    (None,) * 8,
    (2**63 - 1, -(2**31), -1.5e-300, _D("-9999999999.99"), 'say "hi", then\nleave', False,
     dt.date(1969, 12, 31), dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=_UTC)),
    (-(2**63), 2**31 - 1, 1.7976931348623157e308, _D("0.01"), "naïve, ‘quoted’ \"x\"\r\n", None,
     dt.date(1, 1, 1), dt.datetime(9999, 12, 31, 0, 0, tzinfo=_UTC)),
    (5, None, None, None, "", True, None, None),
    (None,) * 8,
    (6, 0, -0.0, _D("0.00"), "NULL", None, dt.date(2000, 1, 1),
     dt.datetime(2000, 1, 1, tzinfo=_UTC)),
]  # fmt: skip


def typed_table(repeat: int = 1) -> pa.Table:
    """Every type the suite cares about, NULLs in every column (two rows all NULL), edge values."""
    columns = list(zip(*_TRICKY_ROWS, strict=True))
    arrays = [
        pa.array(list(values) * repeat, f.type)
        for f, values in zip(TYPED_SCHEMA, columns, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=TYPED_SCHEMA)


def assert_same_table(actual: pa.Table, expected: pa.Table, *, ordered: bool = True) -> None:
    """Same column names and types, same values (rows sorted first when order is not kept)."""
    assert actual.schema.remove_metadata() == expected.schema.remove_metadata(), (
        f"schema differs:\n{actual.schema}\n!=\n{expected.schema}"
    )
    actual, expected = actual.combine_chunks(), expected.combine_chunks()
    if not ordered:
        keys = [(name, "ascending") for name in expected.column_names]
        actual, expected = actual.sort_by(keys), expected.sort_by(keys)
    assert actual.num_rows == expected.num_rows
    for name in expected.column_names:
        got, want = actual.column(name), expected.column(name)
        if not got.equals(want):
            rows = [
                (i, a, b)
                for i, (a, b) in enumerate(zip(got.to_pylist(), want.to_pylist(), strict=True))
                if a != b
            ]
            raise AssertionError(f"column {name!r} differs at (row, got, want): {rows[:5]}")


def failing_after(
    batches: list[pa.RecordBatch], count: int, error: Callable[[], Exception]
) -> Iterator[pa.RecordBatch]:
    """A test-only source: yields `count` batches, then raises `error()`."""
    yield from batches[:count]
    raise error()


# --- other plugins' adapters -------------------------------------------------------------
for _module in sorted(Path(__file__).parent.glob("adapters_*.py")):
    importlib.import_module(f"{__package__}.{_module.stem}")
