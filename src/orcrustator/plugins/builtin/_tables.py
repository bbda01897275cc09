"""What the table loaders (`postgres`, `sqlite`) share: their load options and stream helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
from pydantic import Field, model_validator

from orcrustator.plugins.base import PluginConfig
from orcrustator.plugins.identifiers import ColumnName, TableName

LoadMode = Literal["append", "replace", "merge"]


class TableLoadOptions(PluginConfig):
    """`table`, `mode` and `key`, with the rule that a merge needs its key."""

    table: TableName
    mode: LoadMode = "append"
    key: list[ColumnName] | None = Field(default=None, description="columns to merge on")

    @model_validator(mode="after")
    def _merge_needs_key(self) -> TableLoadOptions:
        if self.mode == "merge" and not self.key:
            raise ValueError("mode 'merge' needs 'key': the columns that identify a row")
        return self


def chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The stream again, after its first batch was taken to learn the schema."""
    yield first
    yield from rest
