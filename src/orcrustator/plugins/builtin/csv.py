"""Extractor and loader `csv`: stream a CSV file in and out with pyarrow, in bounded memory.

Column types, in order of precedence: the `columns` option; else the destination's existing
type (`RunContext.target_schema`, so a CSV column goes straight to decimal128 or timestamp for
a typed table); else pyarrow's inference from the first block (`block_size` bytes); declare a
column whose first block is not representative (all empty, say) in `columns`.

NULL: by default only an empty, unquoted field is NULL, and `""` is the empty string; this is
exactly what the loader writes, so a round trip keeps NULLs and empty strings apart. Pass
`null_values` (e.g. `["", "NULL", "NA"]`) for files that spell NULL otherwise.

A timestamp with a time zone, when taken from the destination's types, also accepts values
without an offset (read in that zone, even mixed with values that have one); given in
`columns` it requires the offset.

Memory: pyarrow's streaming reader reads up to ~32 blocks ahead of the consumer, so a task
holds about 40 x `block_size`: ~40 MiB with the default 1 MiB blocks (measured by the
contract suite), ~150 MiB with 4 MiB ones.
"""

from __future__ import annotations

import codecs
import contextlib
import csv as stdlib_csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
from pydantic import Field, field_validator, model_validator

from orcrustator.plugins.base import Extractor, PluginConfig, PluginError, PluginSpec, RunContext
from orcrustator.plugins.builtin._files import (
    MIB,
    TYPE_EXAMPLES,
    FileLoader,
    FileWriter,
    arrow_message,
    check_column_types,
    column_types,
    data_file,
    plugin_errors,
    read_batches,
)
from orcrustator.plugins.paths import DataPath

_COLUMN_NUMBER = re.compile(r"In CSV column #(\d+)")


def _check_delimiter(value: str) -> str:
    if value in ('"', "\n", "\r"):
        raise ValueError("the delimiter cannot be a quote or a line break")
    return value


class CsvExtractorConfig(PluginConfig):
    type: Literal["csv"] = "csv"
    path: DataPath
    delimiter: str = Field(",", min_length=1, max_length=1, description="One character.")
    header: bool = Field(True, description="The first line names the columns.")
    column_names: list[str] | None = Field(
        None,
        min_length=1,
        description="Column names: required without a header; with one, they replace it.",
    )
    columns: dict[str, str] | None = Field(
        None, description=f"Arrow types by column name, e.g. {TYPE_EXAMPLES}."
    )
    null_values: list[str] | None = Field(
        None, description="Field values read as NULL (default: only an empty unquoted field)."
    )
    block_size: int = Field(
        MIB, ge=1024, le=1024 * MIB, description="Bytes parsed at a time (bounds memory)."
    )
    encoding: str = Field("utf8", description="The file's text encoding.")
    newlines_in_values: bool = Field(
        True, description="Quoted values may contain line breaks (false parses faster)."
    )

    _delimiter = field_validator("delimiter")(_check_delimiter)
    _columns = field_validator("columns")(check_column_types)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding '{value}'") from None
        return value

    @model_validator(mode="after")
    def _names_without_header(self) -> CsvExtractorConfig:
        if not self.header and not self.column_names:
            raise ValueError("column_names is required when header is false")
        if self.column_names and len(set(self.column_names)) != len(self.column_names):
            raise ValueError("column_names has duplicates")
        return self


class CsvLoaderConfig(PluginConfig):
    type: Literal["csv"] = "csv"
    path: DataPath
    delimiter: str = Field(",", min_length=1, max_length=1, description="One character.")
    header: bool = Field(True, description="Write the column names as the first line.")

    _delimiter = field_validator("delimiter")(_check_delimiter)


def _hintable(data_type: pa.DataType) -> bool:
    """Types the CSV parser converts to directly (others are left to inference)."""
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


_OFFSET_AT_END = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


def _to_timestamp(array: pa.Array, data_type: pa.TimestampType) -> pa.Array:
    """Strings to a zoned timestamp: with an offset as given, without one in that zone."""
    import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

    try:
        return array.cast(data_type)
    except pa.ArrowInvalid:
        pass  # some values have no offset
    has_offset = pc.match_substring_regex(array, _OFFSET_AT_END)
    no_text = pa.scalar(None, array.type)
    zoned = pc.if_else(has_offset, array, no_text).cast(data_type)
    naive = pc.if_else(has_offset, no_text, array).cast(pa.timestamp(data_type.unit))
    local = pc.assume_timezone(naive, timezone=data_type.tz)
    return pc.if_else(has_offset, zoned, local)


class CsvExtractor(Extractor):
    def __init__(self, config: CsvExtractorConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.path, self.shown = data_file(ctx, config.path)

    def _types(self) -> tuple[dict[str, pa.DataType], dict[str, pa.DataType]]:
        """Types to parse into, and zoned timestamps to convert after parsing as strings."""
        types: dict[str, pa.DataType] = {}
        later: dict[str, pa.DataType] = {}
        target = self.ctx.target_schema
        for field in target if target is not None else []:
            if not _hintable(field.type):
                continue
            if pa.types.is_timestamp(field.type) and field.type.tz is not None:
                types[field.name] = pa.string()
                later[field.name] = field.type
            else:
                types[field.name] = field.type
        explicit = column_types(self.config.columns)
        for name in explicit:
            later.pop(name, None)
        return types | explicit, later

    def _header(self) -> list[str]:
        """The column names, for error messages (best effort: [] if unreadable)."""
        if self.config.column_names:
            return list(self.config.column_names)
        try:
            with pa.input_stream(str(self.path)) as stream:
                head = stream.read(self.config.block_size)
            text = head.decode(self.config.encoding, errors="replace")
            return next(stdlib_csv.reader(io.StringIO(text), delimiter=self.config.delimiter), [])
        except (OSError, pa.ArrowException, stdlib_csv.Error):
            return []

    def _explain(self, message: str, typed: set[str]) -> str:
        """Name the column pyarrow numbers; suggest declaring a type it had to guess."""
        match = _COLUMN_NUMBER.search(message)
        names = self._header() if match else []
        if match is None or int(match.group(1)) >= len(names):
            return message
        name = names[int(match.group(1))]
        message = message.replace(match.group(0), f"{match.group(0)} ('{name}')", 1)
        if "conversion error" in message and name not in typed:
            message += (
                f"; the type of '{name}' was inferred from the first block: declare it in `columns`"
            )
        return message

    def _open(self, types: dict[str, pa.DataType]) -> pa.RecordBatchReader | None:
        import pyarrow.csv as pacsv  # type: ignore[import-untyped,unused-ignore]

        cfg = self.config
        read: dict[str, Any] = {"block_size": cfg.block_size, "encoding": cfg.encoding}
        if cfg.column_names:
            read |= {"column_names": cfg.column_names, "skip_rows": 1 if cfg.header else 0}
        null_values = cfg.null_values if cfg.null_values is not None else [""]
        with plugin_errors(self.shown, "reading"):
            try:
                # This reads and converts the first block already.
                return pacsv.open_csv(
                    str(self.path),
                    read_options=pacsv.ReadOptions(**read),
                    parse_options=pacsv.ParseOptions(
                        delimiter=cfg.delimiter, newlines_in_values=cfg.newlines_in_values
                    ),
                    convert_options=pacsv.ConvertOptions(
                        column_types=types,
                        null_values=null_values,
                        strings_can_be_null=True,
                        quoted_strings_can_be_null=False,
                    ),
                )
            except pa.ArrowInvalid as exc:
                if "Empty CSV file" in str(exc):
                    return None
                message = self._explain(arrow_message(exc), set(types))
                raise PluginError(f"error reading {self.shown}: {message}") from exc

    def batches(self) -> Iterator[pa.RecordBatch]:
        self.ctx.raise_if_cancelled()
        types, later = self._types()
        reader = self._open(types)
        if reader is None:
            self.ctx.log("INFO", f"{self.shown} is empty")
            return

        def convert(batch: pa.RecordBatch) -> pa.RecordBatch:
            schema = batch.schema
            arrays = list(batch.columns)
            for name, data_type in later.items():
                index = schema.get_field_index(name)
                if index >= 0:
                    arrays[index] = _to_timestamp(arrays[index], data_type)
                    schema = schema.set(index, schema.field(index).with_type(data_type))
            return pa.RecordBatch.from_arrays(arrays, schema=schema)

        self.ctx.log("INFO", f"reading {self.shown}")
        yield from read_batches(
            self.ctx,
            self.shown,
            reader,
            convert=convert if later else None,
            explain=lambda message: self._explain(message, set(types)),
        )


class _CsvWriter(FileWriter):
    def __init__(self, path: Path, schema: pa.Schema | None, config: CsvLoaderConfig) -> None:
        import pyarrow.csv as pacsv  # type: ignore[import-untyped,unused-ignore]

        self.sink = pa.OSFile(str(path), "wb")
        self.writer = None
        if schema is not None:
            options = pacsv.WriteOptions(include_header=config.header, delimiter=config.delimiter)
            try:
                self.writer = pacsv.CSVWriter(self.sink, schema, write_options=options)
            except BaseException:
                self.abort()
                raise

    def write(self, batch: pa.RecordBatch) -> None:
        if self.writer is not None:
            self.writer.write_batch(batch)

    def tell(self) -> int:
        return int(self.sink.tell())

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.sink.close()

    def abort(self) -> None:
        with contextlib.suppress(OSError, pa.ArrowException):
            self.sink.close()


class CsvLoader(FileLoader):
    def __init__(self, config: CsvLoaderConfig, ctx: RunContext) -> None:
        super().__init__(config.path, ctx)
        self.config = config

    def open_writer(self, path: Path, schema: pa.Schema | None) -> FileWriter:
        return _CsvWriter(path, schema, self.config)


def _build_extractor(config: CsvExtractorConfig, ctx: RunContext) -> CsvExtractor:
    return CsvExtractor(config, ctx)


def _build_loader(config: CsvLoaderConfig, ctx: RunContext) -> CsvLoader:
    return CsvLoader(config, ctx)


extractor_spec: PluginSpec[CsvExtractorConfig, CsvExtractor] = PluginSpec(
    name="csv",
    kind="extractor",
    config_model=CsvExtractorConfig,
    factory=_build_extractor,
    description="Streams a CSV file (optionally compressed: .gz, .bz2, .zst) as record batches.",
)

loader_spec: PluginSpec[CsvLoaderConfig, CsvLoader] = PluginSpec(
    name="csv",
    kind="loader",
    config_model=CsvLoaderConfig,
    factory=_build_loader,
    description="Writes a CSV file (UTF-8, header line), atomically replacing any old one.",
)
