"""The file plugins csv, jsonl and parquet: options, types, formats, errors and atomic writes.

What every plugin must do (round trips, failure and cancellation safety, bounded memory) is in
tests/contract; here are the format-specific behaviours.
"""

from __future__ import annotations

import datetime as dt
import decimal
import errno
import gzip
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]
import pytest

from orcrustator.errors import InvalidInput
from orcrustator.plugins import registry
from orcrustator.plugins.base import (
    Extractor,
    Loader,
    LoadResult,
    PluginError,
    PluginKind,
    RunContext,
    TaskCancelled,
)
from orcrustator.plugins.builtin import _files, csv, jsonl, parquet
from orcrustator.plugins.paths import DATA_DIR_CONTEXT_KEY

UTC = dt.UTC


class Ctx:
    """A RunContext recording progress and logs, cancellable on demand."""

    def __init__(self, data_dir: Path, target_schema: pa.Schema | None = None) -> None:
        self.progress: list[tuple[int, int, int]] = []
        self.logs: list[tuple[str, str]] = []
        self.cancel = False
        self.ctx = RunContext(
            run_id="run-1",
            job_id="job-1",
            task_id=None,
            task_order=1,
            data_dir=data_dir,
            log=lambda level, message: self.logs.append((level, message)),
            progress=lambda e, lo, b: self.progress.append((e, lo, b)),
            cancelled=lambda: self.cancel,
            target_schema=target_schema,
        )


def build(kind: PluginKind, config: dict[str, Any], ctx: RunContext) -> Any:
    model = registry.validate_config(kind, config, context={DATA_DIR_CONTEXT_KEY: ctx.data_dir})
    plugin = registry.get_spec(kind, model.type).factory(model, ctx)
    assert isinstance(plugin, Extractor if kind == "extractor" else Loader)
    return plugin


def extract(tmp_path: Path, config: dict[str, Any], target: pa.Schema | None = None) -> pa.Table:
    batches = list(build("extractor", config, Ctx(tmp_path, target).ctx).batches())
    assert batches, "expected at least one batch"
    return pa.Table.from_batches(batches)


def load(tmp_path: Path, config: dict[str, Any], batches: list[pa.RecordBatch]) -> LoadResult:
    result: LoadResult = build("loader", config, Ctx(tmp_path).ctx).load(iter(batches))
    return result


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --- type names --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("int64", pa.int64()),
        ("INT32", pa.int32()),
        ("float64", pa.float64()),
        ("double", pa.float64()),
        ("string", pa.string()),
        ("large_string", pa.large_string()),
        ("bool", pa.bool_()),
        ("date32", pa.date32()),
        ("date32[day]", pa.date32()),
        ("time64[us]", pa.time64("us")),
        ("decimal128(12,2)", pa.decimal128(12, 2)),
        (" decimal128( 12 , 2 ) ", pa.decimal128(12, 2)),
        ("decimal(10)", pa.decimal128(10, 0)),
        ("numeric(50,4)", pa.decimal256(50, 4)),
        ("timestamp[us]", pa.timestamp("us")),
        ("timestamp[us, tz=UTC]", pa.timestamp("us", tz="UTC")),
        ("timestamp[ms,tz=Europe/Paris]", pa.timestamp("ms", tz="Europe/Paris")),
        ("timestamp[s, tz=+01:00]", pa.timestamp("s", tz="+01:00")),
    ],
)
def test_type_names_parse(text: str, expected: pa.DataType) -> None:
    assert _files.parse_arrow_type(text) == expected


@pytest.mark.parametrize(
    "data_type",
    [
        pa.int8(),
        pa.uint64(),
        pa.float32(),
        pa.decimal128(38, 10),
        pa.decimal256(60, 5),
        pa.timestamp("ns", tz="America/New_York"),
        pa.date64(),
        pa.time32("ms"),
        pa.binary(),
    ],
)
def test_arrow_type_names_round_trip(data_type: pa.DataType) -> None:
    assert _files.parse_arrow_type(str(data_type)) == data_type


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("int", "unknown type 'int'"),
        ("decimal128(12", "unknown type"),
        ("decimal(0,0)", "precision must be 1 to 76"),
        ("timestamp[us, tz=Mars/Olympus]", "unknown time zone 'Mars/Olympus'"),
        ("list<int64>", "unknown type"),
    ],
)
def test_bad_type_names_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _files.parse_arrow_type(text)


# --- configs -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "options", "field", "message"),
    [
        (
            "extractor",
            {"type": "csv", "path": "a.csv", "columns": {"id": "int64", "amount": "money"}},
            "columns",
            "column 'amount': unknown type 'money'",
        ),
        ("extractor", {"type": "csv", "path": "a.csv", "header": False}, None, "column_names"),
        ("extractor", {"type": "csv", "path": "a.csv", "delimiter": ";;"}, "delimiter", None),
        ("extractor", {"type": "csv", "path": "a.csv", "delimiter": '"'}, "delimiter", "quote"),
        ("loader", {"type": "csv", "path": "a.csv", "delimiter": "\n"}, "delimiter", "line"),
        ("extractor", {"type": "csv", "path": "a.csv", "encoding": "klingon"}, "encoding", None),
        ("extractor", {"type": "csv", "path": "a.csv", "block_size": 10}, "block_size", None),
        ("extractor", {"type": "jsonl", "path": "a", "columns": {"d": "date"}}, "columns", "'d'"),
        ("extractor", {"type": "parquet", "path": "a", "columns": []}, "columns", None),
        ("loader", {"type": "parquet", "path": "a", "compression": "lz4"}, "compression", None),
        ("loader", {"type": "jsonl", "path": ""}, "path", None),
        ("loader", {"type": "jsonl", "path": "../up.jsonl"}, "path", "outside the data dir"),
    ],
)
def test_bad_options_are_config_errors(
    kind: PluginKind,
    options: dict[str, Any],
    field: str | None,
    message: str | None,
    tmp_path: Path,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        registry.validate_config(kind, options, context={DATA_DIR_CONTEXT_KEY: tmp_path})
    if field is not None:
        assert caught.value.field == field
    if message is not None:
        assert message in caught.value.message


def test_specs_are_registered_with_their_options() -> None:
    for module in (csv, jsonl, parquet):
        assert registry.get_spec("extractor", module.extractor_spec.name) is module.extractor_spec
        assert registry.get_spec("loader", module.loader_spec.name) is module.loader_spec
    options = registry.json_schema(csv.extractor_spec)["properties"]
    assert {"path", "delimiter", "header", "column_names", "columns", "null_values"} <= set(options)
    assert options["block_size"]["default"] == 1024 * 1024
    assert registry.json_schema(parquet.loader_spec)["properties"]["compression"]["enum"] == [
        "snappy",
        "zstd",
        "gzip",
        "none",
    ]


# --- csv extractor -----------------------------------------------------------------------
TYPED_CSV = (
    "id,amount,updated_at,day,qty,note\n"
    "1,12.30,2024-01-02 03:04:05,2024-01-02,7,hello\n"
    '2,-0.05,2024-01-02T03:04:05.5Z,2024-02-29,,"a, ""quoted""\nline"\n'
    ",,,,,\n"
)


def write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)


def test_csv_infers_types_without_hints(tmp_path: Path) -> None:
    write(tmp_path / "in.csv", "id,name,price\n1,a,1.5\n2,b,\n")
    table = extract(tmp_path, {"type": "csv", "path": "in.csv"})
    assert table.schema == pa.schema(
        [("id", pa.int64()), ("name", pa.string()), ("price", pa.float64())]
    )
    assert table.column("price").to_pylist() == [1.5, None]


def test_csv_parses_into_the_destination_types(tmp_path: Path) -> None:
    write(tmp_path / "in.csv", TYPED_CSV)
    target = pa.schema(
        [
            ("amount", pa.decimal128(12, 2)),
            ("updated_at", pa.timestamp("us", tz="UTC")),
            ("day", pa.date32()),
            ("qty", pa.int32()),
            ("not_in_file", pa.int16()),
            ("tags", pa.list_(pa.string())),  # not something CSV parses: left to inference
        ]
    )
    table = extract(tmp_path, {"type": "csv", "path": "in.csv"}, target)
    assert table.schema.names == ["id", "amount", "updated_at", "day", "qty", "note"]
    assert [f.type for f in table.schema][1:5] == [f.type for f in target][:4]
    assert table.column("amount").to_pylist() == [
        decimal.Decimal("12.30"),
        decimal.Decimal("-0.05"),
        None,
    ]
    # a value without an offset is read in the destination's zone
    assert table.column("updated_at").to_pylist()[:2] == [
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC),
    ]
    assert table.column("note").to_pylist() == ["hello", 'a, "quoted"\nline', None]


def test_csv_explicit_columns_win_over_the_destination(tmp_path: Path) -> None:
    write(tmp_path / "in.csv", TYPED_CSV)
    target = pa.schema([("qty", pa.int32()), ("id", pa.string())])
    columns = {"qty": "int64", "amount": "decimal128(10,3)", "updated_at": "string"}
    table = extract(tmp_path, {"type": "csv", "path": "in.csv", "columns": columns}, target)
    assert table.schema.field("qty").type == pa.int64()
    assert table.schema.field("id").type == pa.string()
    assert table.schema.field("amount").type == pa.decimal128(10, 3)
    assert table.column("updated_at").to_pylist()[0] == "2024-01-02 03:04:05"


def test_csv_explicit_zoned_timestamp_needs_an_offset(tmp_path: Path) -> None:
    write(tmp_path / "in" / "t.csv", TYPED_CSV)
    columns = {"updated_at": "timestamp[us, tz=UTC]"}
    with pytest.raises(PluginError) as caught:
        extract(tmp_path, {"type": "csv", "path": "in/t.csv", "columns": columns})
    message = caught.value.message
    assert message.startswith("error reading in/t.csv: In CSV column #2 ('updated_at')")
    assert "expected a zone offset" in message


def test_csv_conversion_error_names_file_and_column(tmp_path: Path) -> None:
    write(tmp_path / "in.csv", "id,qty\n1,2\n3,many\n")
    with pytest.raises(PluginError) as caught:
        extract(tmp_path, {"type": "csv", "path": "in.csv", "columns": {"qty": "int32"}})
    assert caught.value.message == (
        "error reading in.csv: In CSV column #1 ('qty'): "
        "CSV conversion error to int32: invalid value 'many'"
    )


def test_csv_inferred_type_error_suggests_declaring_it(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i}\n" for i in range(3000))
    write(tmp_path / "in.csv", "id,code\n" + rows + "9,X12\n")
    with pytest.raises(PluginError, match="inferred from the first block: declare it in `columns`"):
        extract(tmp_path, {"type": "csv", "path": "in.csv", "block_size": 4096})
    table = extract(
        tmp_path,
        {"type": "csv", "path": "in.csv", "block_size": 4096, "columns": {"code": "string"}},
    )
    assert table.column("code").to_pylist()[-1] == "X12"


def test_csv_row_error_names_the_file(tmp_path: Path) -> None:
    write(tmp_path / "in.csv", "a,b\n1,2\n3\n")
    with pytest.raises(PluginError, match=r"^error reading in.csv: CSV parse error: Expected 2"):
        extract(tmp_path, {"type": "csv", "path": "in.csv"})


def test_csv_row_longer_than_a_block(tmp_path: Path) -> None:
    write(tmp_path / "in.csv", "a,b\n1,x\n2," + "y" * 3000 + "\n")
    with pytest.raises(PluginError, match="raise it"):
        extract(tmp_path, {"type": "csv", "path": "in.csv", "block_size": 1024})


def test_csv_without_header(tmp_path: Path) -> None:
    write(tmp_path / "in.csv", "1;x\n2;y\n")
    options = {"type": "csv", "path": "in.csv", "header": False, "delimiter": ";"}
    table = extract(tmp_path, {**options, "column_names": ["id", "name"]})
    assert table.to_pydict() == {"id": [1, 2], "name": ["x", "y"]}


def test_csv_column_names_replace_a_header(tmp_path: Path) -> None:
    write(tmp_path / "in.csv", "A,B\n1,x\n")
    table = extract(tmp_path, {"type": "csv", "path": "in.csv", "column_names": ["id", "name"]})
    assert table.to_pydict() == {"id": [1], "name": ["x"]}


def test_csv_nulls_are_empty_unquoted_fields_unless_told(tmp_path: Path) -> None:
    write(tmp_path / "in.csv", 'name,n\nNULL,1\n"",NA\n,\n')
    default = extract(tmp_path, {"type": "csv", "path": "in.csv", "columns": {"n": "string"}})
    assert default.to_pydict() == {"name": ["NULL", "", None], "n": ["1", "NA", None]}
    told = extract(tmp_path, {"type": "csv", "path": "in.csv", "null_values": ["NULL", "NA", ""]})
    assert told.to_pydict() == {"name": [None, "", None], "n": [1, None, None]}


def test_csv_encoding_and_compression(tmp_path: Path) -> None:
    write(tmp_path / "latin.csv", "name\nGrüße\n".encode("latin-1"))
    table = extract(tmp_path, {"type": "csv", "path": "latin.csv", "encoding": "latin-1"})
    assert table.column("name").to_pylist() == ["Grüße"]
    write(tmp_path / "zipped.csv.gz", gzip.compress(b"id\n1\n2\n"))
    assert extract(tmp_path, {"type": "csv", "path": "zipped.csv.gz"}).num_rows == 2


def test_csv_empty_file_and_header_only(tmp_path: Path) -> None:
    write(tmp_path / "empty.csv", "")
    recorder = Ctx(tmp_path)
    assert (
        list(build("extractor", {"type": "csv", "path": "empty.csv"}, recorder.ctx).batches()) == []
    )
    assert ("INFO", "empty.csv is empty") in recorder.logs
    write(tmp_path / "header.csv", "id,amount\n")
    options = {"type": "csv", "path": "header.csv", "columns": {"amount": "decimal128(12,2)"}}
    (batch,) = build("extractor", options, Ctx(tmp_path).ctx).batches()
    assert batch.num_rows == 0
    assert batch.schema.field("amount").type == pa.decimal128(12, 2)


def test_csv_missing_file_or_directory(tmp_path: Path) -> None:
    with pytest.raises(PluginError) as caught:
        extract(tmp_path, {"type": "csv", "path": "in/../in/nope.csv"})
    assert caught.value.message == "file 'in/nope.csv' not found in the data directory"
    (tmp_path / "folder").mkdir()
    with pytest.raises(PluginError, match="'folder' is a directory"):
        extract(tmp_path, {"type": "csv", "path": "folder"})


def test_csv_reports_progress_and_stops_when_cancelled(tmp_path: Path) -> None:
    write(tmp_path / "in.csv", "id\n" + "".join(f"{i}\n" for i in range(5000)))
    recorder = Ctx(tmp_path)
    options = {"type": "csv", "path": "in.csv", "block_size": 1024}
    batches = build("extractor", options, recorder.ctx).batches()
    first = next(batches)
    assert recorder.progress == [(first.num_rows, 0, 0)]
    recorder.cancel = True
    with pytest.raises(TaskCancelled):
        next(batches)


# --- csv loader --------------------------------------------------------------------------
def sample_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "id": pa.array([1, None], pa.int64()),
            "text": pa.array(['a "b", c', ""], pa.string()),
            "amount": pa.array([decimal.Decimal("1.50"), None], pa.decimal128(5, 2)),
            "at": pa.array(
                [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None], pa.timestamp("s", tz="UTC")
            ),
        }
    )


def test_csv_loader_writes_quoted_csv(tmp_path: Path) -> None:
    result = load(tmp_path, {"type": "csv", "path": "out/a.csv"}, [sample_batch()])
    content = (tmp_path / "out" / "a.csv").read_text()
    assert content == (
        '"id","text","amount","at"\n1,"a ""b"", c",1.50,2024-01-02 03:04:05Z\n,"",,\n'
    )
    assert result == LoadResult(rows_loaded=2, bytes_loaded=len(content.encode()))
    options = {"type": "csv", "path": "b.csv", "header": False, "delimiter": ";"}
    load(tmp_path, options, [sample_batch()])
    assert (tmp_path / "b.csv").read_text().splitlines()[
        0
    ] == '1;"a ""b"", c";1.50;2024-01-02 03:04:05Z'


def test_csv_loader_empty_inputs(tmp_path: Path) -> None:
    assert load(tmp_path, {"type": "csv", "path": "none.csv"}, []) == LoadResult(0, 0)
    assert (tmp_path / "none.csv").read_bytes() == b""
    empty = sample_batch().slice(0, 0)
    load(tmp_path, {"type": "csv", "path": "header.csv"}, [empty])
    assert (tmp_path / "header.csv").read_text() == '"id","text","amount","at"\n'


def test_loader_replaces_and_keeps_the_file_mode(tmp_path: Path) -> None:
    target = tmp_path / "a.csv"
    write(target, "old\n")
    target.chmod(0o640)
    load(tmp_path, {"type": "csv", "path": "a.csv"}, [sample_batch()])
    assert target.read_text().startswith('"id"')
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert listing(tmp_path) == ["a.csv"]
    load(tmp_path, {"type": "csv", "path": "new.csv"}, [sample_batch()])
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o666 & ~_files._umask()


def old_file(tmp_path: Path, name: str = "a.csv") -> bytes:
    content = b"old,content\n1,2\n"
    write(tmp_path / "out" / name, content)
    return content


def test_loader_refuses_a_second_schema_and_keeps_the_old_file(tmp_path: Path) -> None:
    content = old_file(tmp_path)
    other = pa.RecordBatch.from_pydict({"id": [1]})
    with pytest.raises(PluginError, match=r"^writing out/a.csv: a batch's columns \(id: int64\)"):
        load(tmp_path, {"type": "csv", "path": "out/a.csv"}, [sample_batch(), other])
    assert (tmp_path / "out" / "a.csv").read_bytes() == content
    assert listing(tmp_path / "out") == ["a.csv"]


def test_csv_loader_refuses_nested_columns(tmp_path: Path) -> None:
    content = old_file(tmp_path)
    nested = pa.RecordBatch.from_pydict({"tags": pa.array([["a"]], pa.list_(pa.string()))})
    with pytest.raises(PluginError, match=r"^error writing out/a.csv: .*list<item: string>"):
        load(tmp_path, {"type": "csv", "path": "out/a.csv"}, [nested])
    assert (tmp_path / "out" / "a.csv").read_bytes() == content
    assert listing(tmp_path / "out") == ["a.csv"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_loader_checks_cancellation_itself(fmt: str, tmp_path: Path) -> None:
    content = old_file(tmp_path, f"a.{fmt}")
    recorder = Ctx(tmp_path)

    def batches() -> Iterator[pa.RecordBatch]:  # a plain source: it never checks
        yield sample_batch()
        recorder.cancel = True
        yield sample_batch()

    loader = build("loader", {"type": fmt, "path": f"out/a.{fmt}"}, recorder.ctx)
    with pytest.raises(TaskCancelled):
        loader.load(batches())
    assert (tmp_path / "out" / f"a.{fmt}").read_bytes() == content
    assert listing(tmp_path / "out") == [f"a.{fmt}"]
    assert recorder.progress[-1][:2] == (0, 2)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_loader_reports_progress_and_creates_directories(fmt: str, tmp_path: Path) -> None:
    recorder = Ctx(tmp_path)
    loader = build("loader", {"type": fmt, "path": f"deep/er/out.{fmt}"}, recorder.ctx)
    result = loader.load(iter([sample_batch()] * 3))
    size = (tmp_path / "deep" / "er" / f"out.{fmt}").stat().st_size
    assert result == LoadResult(rows_loaded=6, bytes_loaded=size)
    assert [p[1] for p in recorder.progress] == [2, 4, 6, 6]
    assert recorder.progress[-1] == (0, 6, size)


def test_loader_target_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(PluginError, match=r"'out\.csv' is a directory"):
        load(tmp_path, {"type": "csv", "path": "out.csv"}, [sample_batch()])


def test_os_errors_become_plugin_errors() -> None:
    full = _files.os_error(OSError(errno.ENOSPC, "No space left on device"), "out/a.csv", "writing")
    assert full.message == "no space left on device writing out/a.csv"
    arrow_style = OSError(28, "Error writing bytes to file. Detail: [errno 28] No space left")
    assert _files.os_error(arrow_style, "x", "writing").message.startswith("no space left")
    denied = _files.os_error(PermissionError(errno.EACCES, "denied"), "a.csv", "reading")
    assert denied.message == "permission denied reading a.csv"


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, mounted only where the tests may (root on Linux); skipped elsewhere."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_disk_full_leaves_the_old_file(fmt: str, tiny_disk: Path) -> None:
    content = b"old\n" * 1000
    write(tiny_disk / f"a.{fmt}", content)
    big = pa.RecordBatch.from_pydict({"text": [os.urandom(64).hex() for _ in range(4000)]})
    with pytest.raises(PluginError) as caught:
        load(tiny_disk, {"type": fmt, "path": f"a.{fmt}", "compression": "none"}
             if fmt == "parquet" else {"type": fmt, "path": f"a.{fmt}"}, [big] * 10)  # fmt: skip
    assert caught.value.message == f"no space left on device writing a.{fmt}"
    assert (tiny_disk / f"a.{fmt}").read_bytes() == content
    assert listing(tiny_disk) == [f"a.{fmt}"]


DEC19_2 = pa.decimal128(19, 2)


# --- jsonl -------------------------------------------------------------------------------
def test_jsonl_loader_writes_exact_json(tmp_path: Path) -> None:
    moment = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    batch = pa.RecordBatch.from_pydict(
        {
            "at": pa.array([moment.replace(microsecond=123456), None], pa.timestamp("us", "UTC")),
            "paris": pa.array([moment] * 2, pa.timestamp("s", tz="Europe/Paris")),
            "naive": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5)] * 2, pa.timestamp("ms")),
            "day": pa.array([dt.date(2024, 2, 29), None], pa.date32()),
            "clock": pa.array([dt.time(13, 45), None], pa.time64("us")),
            "amount": pa.array([decimal.Decimal("12345678901234567.89"), None], DEC19_2),
            "ratio": pa.array([float("nan"), float("inf")], pa.float64()),
            "big": pa.array([2**63 - 1, None], pa.int64()),
            "raw": pa.array([b"\x00\xff", None], pa.binary()),
            "text": pa.array(["Grüße 🌍\n\"q\"", None]),
            "nested": pa.array([{"d": dt.date(2024, 1, 1), "n": [decimal.Decimal("1.5")]}, None]),
        }
    )  # fmt: skip
    load(tmp_path, {"type": "jsonl", "path": "out.jsonl"}, [batch])
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines[0] == (
        '{"at":"2024-01-02T03:04:05.123456Z","paris":"2024-01-02T03:04:05Z",'
        '"naive":"2024-01-02T03:04:05.000","day":"2024-02-29","clock":"13:45:00.000000",'
        '"amount":"12345678901234567.89","ratio":null,"big":9223372036854775807,'
        '"raw":"AP8=","text":"Grüße 🌍\\n\\"q\\"","nested":{"d":"2024-01-01","n":["1.5"]}}'
    )
    assert json.loads(lines[1]) == {
        "at": None, "paris": "2024-01-02T03:04:05Z", "naive": "2024-01-02T03:04:05.000",
        "day": None, "clock": None, "amount": None, "ratio": None, "big": None, "raw": None,
        "text": None, "nested": None,
    }  # fmt: skip


def test_jsonl_extractor_types(tmp_path: Path) -> None:
    write(
        tmp_path / "in.jsonl",
        '\n{"id":1,"amount":"12.30","day":"2024-02-29","at":"2024-01-02 03:04:05","x":true}\n'
        '{"id":2,"amount":null,"day":null,"at":null,"x":false}\n',
    )
    target = pa.schema(
        [
            ("amount", pa.decimal128(12, 2)),
            ("at", pa.timestamp("us", tz="UTC")),
            ("absent", pa.int64()),  # not in the file: not added
        ]
    )
    table = extract(
        tmp_path, {"type": "jsonl", "path": "in.jsonl", "columns": {"day": "date32"}}, target
    )
    assert table.schema == pa.schema(
        [
            ("id", pa.int64()),
            ("amount", pa.decimal128(12, 2)),
            ("day", pa.date32()),
            ("at", pa.timestamp("us", tz="UTC")),
            ("x", pa.bool_()),
        ]
    )
    assert table.column("day").to_pylist() == [dt.date(2024, 2, 29), None]
    assert table.column("at").to_pylist()[0] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_jsonl_extractor_errors_and_empty_files(tmp_path: Path) -> None:
    write(tmp_path / "bad.jsonl", '{"a":1}\n{"a":\n')
    with pytest.raises(PluginError, match=r"^error reading bad.jsonl: JSON parse error: .* row 1"):
        extract(tmp_path, {"type": "jsonl", "path": "bad.jsonl"})
    write(tmp_path / "blank.jsonl", "\n\n")
    assert (
        list(
            build(
                "extractor", {"type": "jsonl", "path": "blank.jsonl"}, Ctx(tmp_path).ctx
            ).batches()
        )
        == []
    )
    with pytest.raises(PluginError, match=r"file 'gone\.jsonl' not found in the data directory"):
        extract(tmp_path, {"type": "jsonl", "path": "gone.jsonl"})


# --- parquet -----------------------------------------------------------------------------
def numbers(count: int, start: int = 0) -> pa.RecordBatch:
    ids = pa.array(range(start, start + count), pa.int64())
    return pa.RecordBatch.from_arrays([ids, ids.cast(pa.string())], names=["id", "name"])


def test_parquet_extractor_projection_and_batch_size(tmp_path: Path) -> None:
    pq.write_table(pa.Table.from_batches([numbers(2500)]), tmp_path / "in.parquet")
    options = {
        "type": "parquet",
        "path": "in.parquet",
        "batch_size": 1000,
        "columns": ["name", "id"],
    }
    batches = list(build("extractor", options, Ctx(tmp_path).ctx).batches())
    assert [b.num_rows for b in batches] == [1000, 1000, 500]
    assert batches[0].schema.names == ["name", "id"]
    with pytest.raises(PluginError, match=r"in\.parquet has no column 'nope'; it has: id, name"):
        extract(tmp_path, {"type": "parquet", "path": "in.parquet", "columns": ["id", "nope"]})


def test_parquet_extractor_bad_and_empty_files(tmp_path: Path) -> None:
    write(tmp_path / "in.parquet", "id\n" + "1\n" * 10)
    with pytest.raises(PluginError, match=r"^error reading in.parquet: .*magic bytes"):
        extract(tmp_path, {"type": "parquet", "path": "in.parquet"})
    pq.write_table(pa.Table.from_batches([numbers(0)]), tmp_path / "empty.parquet")
    (batch,) = build(
        "extractor", {"type": "parquet", "path": "empty.parquet"}, Ctx(tmp_path).ctx
    ).batches()
    assert (batch.num_rows, batch.schema.names) == (0, ["id", "name"])


def test_parquet_loader_row_groups_and_compression(tmp_path: Path) -> None:
    options = {
        "type": "parquet",
        "path": "out.parquet",
        "row_group_size": 1000,
        "compression": "zstd",
    }
    result = load(tmp_path, options, [numbers(300, i * 300) for i in range(12)])
    meta = pq.ParquetFile(tmp_path / "out.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [
        1000,
        1000,
        1000,
        600,
    ]
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert result.rows_loaded == 3600
    assert pq.read_table(tmp_path / "out.parquet").column("id").to_pylist() == list(range(3600))
    load(
        tmp_path, {"type": "parquet", "path": "plain.parquet", "compression": "none"}, [numbers(5)]
    )
    plain = pq.ParquetFile(tmp_path / "plain.parquet").metadata
    assert plain.row_group(0).column(0).compression == "UNCOMPRESSED"


def test_parquet_loader_bounds_a_row_group_by_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parquet, "MAX_PENDING_BYTES", 10_000)
    load(
        tmp_path,
        {"type": "parquet", "path": "out.parquet"},
        [numbers(1000, i * 1000) for i in range(5)],
    )
    meta = pq.ParquetFile(tmp_path / "out.parquet").metadata
    assert meta.num_row_groups == 5
    assert meta.num_rows == 5000


def test_parquet_loader_empty_inputs(tmp_path: Path) -> None:
    load(tmp_path, {"type": "parquet", "path": "none.parquet"}, [])
    assert pq.read_table(tmp_path / "none.parquet").num_columns == 0
    load(tmp_path, {"type": "parquet", "path": "schema.parquet"}, [numbers(0)])
    table = pq.read_table(tmp_path / "schema.parquet")
    assert (table.num_rows, table.schema.names) == (0, ["id", "name"])
