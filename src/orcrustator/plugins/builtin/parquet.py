"""Extractor and loader `parquet`: stream a Parquet file in and out with pyarrow.

The extractor reads `batch_size` rows at a time (optionally only some `columns`). The loader
gathers batches into row groups of `row_group_size` rows, or fewer when the pending batches
reach 4 MiB, so memory stays bounded however wide the rows; the Arrow schema is stored in the
file, so time zones and decimals read back exactly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
from pydantic import Field

from orcrustator.plugins.base import Extractor, PluginConfig, PluginError, PluginSpec, RunContext
from orcrustator.plugins.builtin._files import (
    MIB,
    FileLoader,
    FileWriter,
    data_file,
    plugin_errors,
    read_batches,
)
from orcrustator.plugins.paths import DataPath

# Encoding a row group walks each column of it in turn: 4 MiB of pending Arrow data stays in the
# CPU's caches while it is encoded, 16 MiB did not (1M CSV rows to Parquet, alternated runs:
# 1.28 s against 1.56 s; pyarrow writing each 1 MiB block as its own row group: 1.28 s). Row
# groups stay tens of thousands of rows long for rows of ~100 bytes.
MAX_PENDING_BYTES = 4 * MIB


class ParquetExtractorConfig(PluginConfig):
    type: Literal["parquet"] = "parquet"
    path: DataPath
    batch_size: int = Field(65_536, ge=1, le=10_000_000, description="Rows per record batch.")
    columns: list[str] | None = Field(
        None, min_length=1, description="Read only these columns, in this order."
    )


class ParquetLoaderConfig(PluginConfig):
    type: Literal["parquet"] = "parquet"
    path: DataPath
    compression: Literal["snappy", "zstd", "gzip", "none"] = "snappy"
    row_group_size: int = Field(
        1_048_576, ge=1, le=64 * 1_048_576, description="Rows per row group (at most)."
    )


class ParquetExtractor(Extractor):
    def __init__(self, config: ParquetExtractorConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.path, self.shown = data_file(ctx, config.path)

    def batches(self) -> Iterator[pa.RecordBatch]:
        import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]

        self.ctx.raise_if_cancelled()
        wanted = self.config.columns
        with plugin_errors(self.shown, "reading"):
            source = pq.ParquetFile(str(self.path), pre_buffer=False)
        with contextlib.closing(source):
            schema = source.schema_arrow
            if wanted is not None:
                missing = [name for name in wanted if name not in schema.names]
                if missing:
                    raise PluginError(
                        f"{self.shown} has no column {', '.join(map(repr, missing))}; "
                        f"it has: {', '.join(schema.names)}"
                    )
                schema = pa.schema([schema.field(name) for name in wanted], schema.metadata)
            with plugin_errors(self.shown, "reading"):
                stream = source.iter_batches(
                    batch_size=self.config.batch_size, columns=wanted, use_threads=False
                )
                reader = pa.RecordBatchReader.from_batches(schema, stream)
            self.ctx.log("INFO", f"reading {self.shown} ({source.metadata.num_rows} rows)")
            yield from read_batches(self.ctx, self.shown, reader)


class _ParquetWriter(FileWriter):
    def __init__(self, path: Path, schema: pa.Schema | None, config: ParquetLoaderConfig) -> None:
        import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]

        self.schema = schema if schema is not None else pa.schema([])
        self.row_group_size = config.row_group_size
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0
        self.pending_bytes = 0
        self.sink = pa.OSFile(str(path), "wb")
        try:
            self.writer = pq.ParquetWriter(self.sink, self.schema, compression=config.compression)
        except BaseException:
            self.abort()
            raise

    def write(self, batch: pa.RecordBatch) -> None:
        self.pending.append(batch)
        self.pending_rows += batch.num_rows
        self.pending_bytes += batch.nbytes
        if self.pending_rows >= self.row_group_size or self.pending_bytes >= MAX_PENDING_BYTES:
            self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        if not self.pending_rows:
            return
        table = pa.Table.from_batches(self.pending, self.schema)
        size = self.row_group_size
        whole = table.num_rows // size * size
        if final or whole == 0:  # the end, or a byte-sized flush: everything, in one go
            whole = table.num_rows
        self.writer.write_table(table.slice(0, whole), row_group_size=size)
        rest = table.slice(whole)
        self.pending = rest.to_batches() if rest.num_rows else []
        self.pending_rows = rest.num_rows
        self.pending_bytes = rest.nbytes if rest.num_rows else 0

    def tell(self) -> int:
        return int(self.sink.tell())

    def close(self) -> None:
        self._flush(final=True)
        self.writer.close()
        self.sink.close()

    def abort(self) -> None:
        self.pending = []
        writer = getattr(self, "writer", None)
        if writer is not None:
            with contextlib.suppress(OSError, pa.ArrowException):
                writer.close()  # a footer into the temporary file, which is about to go
            writer.is_open = False  # else its __del__ tries again
        with contextlib.suppress(OSError, pa.ArrowException):
            self.sink.close()


class ParquetLoader(FileLoader):
    def __init__(self, config: ParquetLoaderConfig, ctx: RunContext) -> None:
        super().__init__(config.path, ctx)
        self.config = config

    def open_writer(self, path: Path, schema: pa.Schema | None) -> FileWriter:
        return _ParquetWriter(path, schema, self.config)


def _build_extractor(config: ParquetExtractorConfig, ctx: RunContext) -> ParquetExtractor:
    return ParquetExtractor(config, ctx)


def _build_loader(config: ParquetLoaderConfig, ctx: RunContext) -> ParquetLoader:
    return ParquetLoader(config, ctx)


extractor_spec: PluginSpec[ParquetExtractorConfig, ParquetExtractor] = PluginSpec(
    name="parquet",
    kind="extractor",
    config_model=ParquetExtractorConfig,
    factory=_build_extractor,
    description="Streams a Parquet file as record batches, optionally only some columns.",
)

loader_spec: PluginSpec[ParquetLoaderConfig, ParquetLoader] = PluginSpec(
    name="parquet",
    kind="loader",
    config_model=ParquetLoaderConfig,
    factory=_build_loader,
    description="Writes a Parquet file (the Arrow schema kept), atomically replacing any old one.",
)
