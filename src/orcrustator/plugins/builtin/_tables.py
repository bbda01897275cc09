"""What the table loaders (`postgres`, `sqlite`) share: their load options and stream helpers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
from pydantic import Field, model_validator

from orcrustator.plugins.base import PluginConfig, PluginError
from orcrustator.plugins.identifiers import ColumnName, TableName, TableRef, quote

LoadMode = Literal["append", "replace", "merge"]
STATE_TABLE = "orc_cursor_state"
"""Where a table loader keeps incremental cursors, in the destination beside the rows."""


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


def null_key_count_sql(staging: TableRef, keys: Sequence[str], columns: Sequence[str]) -> str:
    """A query counting staged rows with a NULL merge key; first, every key must be loaded."""
    missing = [k for k in keys if k not in columns]
    if missing:
        raise PluginError(f"merge key column(s) {', '.join(missing)} not in the source data")
    null_check = " OR ".join(f"{quote(k)} IS NULL" for k in keys)
    return f"SELECT count(*) FROM {staging.sql} WHERE {null_check}"


def null_keys_error(keys: Sequence[str]) -> PluginError:
    return PluginError(f"merge key ({', '.join(keys)}) is NULL in some source rows")
