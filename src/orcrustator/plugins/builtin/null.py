"""Loader `null`: reads and discards every batch, counting rows and bytes (for benchmarks)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

from orcrustator.plugins.base import Loader, LoadResult, PluginConfig, PluginSpec, RunContext


class NullConfig(PluginConfig):
    type: Literal["null"] = "null"


class NullLoader(Loader):
    def __init__(self, config: NullConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx

    def load(self, batches: Iterator[pa.RecordBatch]) -> LoadResult:
        rows = 0
        nbytes = 0
        for batch in batches:
            rows += batch.num_rows
            nbytes += batch.nbytes
            self.ctx.progress(0, rows, nbytes)
        return LoadResult(rows_loaded=rows, bytes_loaded=nbytes)


def _build(config: NullConfig, ctx: RunContext) -> NullLoader:
    return NullLoader(config, ctx)


spec: PluginSpec[NullConfig, NullLoader] = PluginSpec(
    name="null",
    kind="loader",
    config_model=NullConfig,
    factory=_build,
    description="Reads and discards every batch; counts rows and bytes.",
)
