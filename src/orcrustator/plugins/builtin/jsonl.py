"""Extractor and loader `jsonl`: one JSON object per line, streamed with pyarrow.

Reading: column types come from the `columns` option, else from the destination's existing
types (`RunContext.target_schema`) for the columns of the first record, else pyarrow's
inference from the first block (declare a column in `columns` when the first block is not
representative). Dates and times are read from strings ("2024-01-31", "13:45:00").

Writing (pyarrow has no JSON writer, so each batch is turned into Python rows, a few thousand
at a time): what JSON has no type for is written as a string that reads back exactly:
timestamps as ISO 8601 (`2024-01-31T13:45:00.123456Z`; zoned ones in UTC with `Z`, naive ones
without an offset), dates and times as ISO 8601, decimals as strings (`"12.30"`, never a float,
so no precision is lost), binary as base64, durations as integers in their unit. NaN and
infinities, which JSON cannot hold, are written as null.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
from pydantic import Field, field_validator

from orcrustator.plugins.base import Extractor, PluginConfig, PluginSpec, RunContext
from orcrustator.plugins.builtin._files import (
    MIB,
    TYPE_EXAMPLES,
    FileLoader,
    FileWriter,
    check_column_types,
    column_types,
    data_file,
    plugin_errors,
    read_batches,
)
from orcrustator.plugins.paths import DataPath

_ROWS_PER_CHUNK = 4096  # rows turned into Python objects at a time, whatever the batch size


class JsonlExtractorConfig(PluginConfig):
    type: Literal["jsonl"] = "jsonl"
    path: DataPath
    columns: dict[str, str] | None = Field(
        None, description=f"Arrow types by column name, e.g. {TYPE_EXAMPLES}."
    )
    block_size: int = Field(
        MIB,
        ge=1024,
        le=1024 * MIB,
        description="Bytes parsed at a time (bounds memory; a line must fit in one block).",
    )

    _columns = field_validator("columns")(check_column_types)


class JsonlLoaderConfig(PluginConfig):
    type: Literal["jsonl"] = "jsonl"
    path: DataPath


def _from_string(data_type: pa.DataType) -> bool:
    """Types pyarrow's JSON reader cannot parse from a string: read as text, then cast."""
    return bool(pa.types.is_date(data_type) or pa.types.is_time(data_type))


def _hintable(data_type: pa.DataType) -> bool:
    t = pa.types
    return bool(
        t.is_integer(data_type)
        or t.is_floating(data_type)
        or t.is_decimal(data_type)
        or t.is_boolean(data_type)
        or t.is_date(data_type)
        or t.is_time(data_type)
        or t.is_timestamp(data_type)
        or t.is_string(data_type)
        or t.is_large_string(data_type)
    )


class JsonlExtractor(Extractor):
    def __init__(self, config: JsonlExtractorConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.path, self.shown = data_file(ctx, config.path)

    def _first_keys(self) -> list[str]:
        """The keys of the first record, in order ([] if there is none or it is not an object).

        Reads at most one block: a first line longer than that is left to the reader.
        """
        with plugin_errors(self.shown, "reading"), pa.input_stream(str(self.path)) as stream:
            head = stream.read(self.config.block_size)
        for line in head.splitlines():
            if line.strip():
                with contextlib.suppress(ValueError):  # bad JSON: the reader reports it
                    record = json.loads(line)
                    return list(record) if isinstance(record, dict) else []
                return []
        return []

    def _types(self, keys: list[str]) -> dict[str, pa.DataType]:
        types: dict[str, pa.DataType] = {}
        target = self.ctx.target_schema
        if target is not None:
            present = set(keys)
            types = {f.name: f.type for f in target if f.name in present and _hintable(f.type)}
        return types | column_types(self.config.columns)

    def batches(self) -> Iterator[pa.RecordBatch]:
        import pyarrow.json as pajson  # type: ignore[import-untyped,unused-ignore]

        self.ctx.raise_if_cancelled()
        keys = self._first_keys() if self.config.columns or self.ctx.target_schema else []
        types = self._types(keys)
        later = {name: t for name, t in types.items() if _from_string(t)}
        parse = pajson.ParseOptions(unexpected_field_behavior="infer")
        if types:
            parse.explicit_schema = pa.schema(
                [(name, pa.string() if name in later else t) for name, t in types.items()]
            )
        with plugin_errors(self.shown, "reading"):
            try:
                reader = pajson.open_json(
                    str(self.path),
                    read_options=pajson.ReadOptions(block_size=self.config.block_size),
                    parse_options=parse,
                )
            except pa.ArrowInvalid as exc:
                if "Empty JSON" not in str(exc):
                    raise
                self.ctx.log("INFO", f"{self.shown} is empty")
                return

        def convert(batch: pa.RecordBatch) -> pa.RecordBatch:
            # An explicit schema puts its columns first: restore the file's order.
            names = batch.schema.names
            order = [k for k in keys if k in names] + [n for n in names if n not in keys]
            arrays, fields = [], []
            for name in order:
                array, field = batch.column(name), batch.schema.field(name)
                if name in later:
                    array, field = array.cast(later[name]), field.with_type(later[name])
                arrays.append(array)
                fields.append(field)
            return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))

        self.ctx.log("INFO", f"reading {self.shown}")
        yield from read_batches(self.ctx, self.shown, reader, convert=convert if types else None)


def _default(value: Any) -> Any:
    """Values inside nested columns that `json` cannot write by itself."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")


def _jsonable(array: pa.Array) -> pa.Array:
    """One column with the types JSON lacks turned into strings (vectorised, in Arrow)."""
    import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

    t = array.type
    if pa.types.is_timestamp(t):
        if t.tz is not None:
            array = array.cast(pa.timestamp(t.unit, tz="UTC"))
        text = array.cast(pa.string())
        return pc.replace_substring(text, " ", "T", max_replacements=1)
    if pa.types.is_date(t) or pa.types.is_time(t) or pa.types.is_decimal(t):
        return array.cast(pa.string())
    if pa.types.is_duration(t):
        return array.cast(pa.int64())
    if pa.types.is_floating(t):
        return pc.if_else(pc.is_finite(array), array, pa.scalar(None, t))
    return array


class _JsonlWriter(FileWriter):
    def __init__(self, path: Path) -> None:
        self.file: BinaryIO = path.open("wb")
        self.encode = json.JSONEncoder(
            ensure_ascii=False, separators=(",", ":"), default=_default
        ).encode

    def write(self, batch: pa.RecordBatch) -> None:
        prepared = pa.RecordBatch.from_arrays(
            [_jsonable(column) for column in batch.columns], names=batch.schema.names
        )
        encode = self.encode
        for offset in range(0, prepared.num_rows, _ROWS_PER_CHUNK):
            rows = prepared.slice(offset, _ROWS_PER_CHUNK).to_pylist()
            self.file.write("".join([encode(row) + "\n" for row in rows]).encode("utf-8"))

    def tell(self) -> int:
        return self.file.tell()

    def close(self) -> None:
        self.file.close()

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()


class JsonlLoader(FileLoader):
    def __init__(self, config: JsonlLoaderConfig, ctx: RunContext) -> None:
        super().__init__(config.path, ctx)
        self.config = config

    def open_writer(self, path: Path, schema: pa.Schema | None) -> FileWriter:
        return _JsonlWriter(path)


def _build_extractor(config: JsonlExtractorConfig, ctx: RunContext) -> JsonlExtractor:
    return JsonlExtractor(config, ctx)


def _build_loader(config: JsonlLoaderConfig, ctx: RunContext) -> JsonlLoader:
    return JsonlLoader(config, ctx)


extractor_spec: PluginSpec[JsonlExtractorConfig, JsonlExtractor] = PluginSpec(
    name="jsonl",
    kind="extractor",
    config_model=JsonlExtractorConfig,
    factory=_build_extractor,
    description="Streams a JSON Lines file (one object per line) as record batches.",
)

loader_spec: PluginSpec[JsonlLoaderConfig, JsonlLoader] = PluginSpec(
    name="jsonl",
    kind="loader",
    config_model=JsonlLoaderConfig,
    factory=_build_loader,
    description="Writes a JSON Lines file (UTF-8), atomically replacing any old one.",
)
