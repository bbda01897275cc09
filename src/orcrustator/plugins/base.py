"""Every plugin interface in one module: extractors, loaders, their config and spec.

Data between plugins is only a stream of `pyarrow.RecordBatch`: an extractor yields batches, a
loader consumes them lazily, so memory stays bounded whatever the input size. A plugin is
published as a `PluginSpec` under the entry-point group `orcrustator.extractors` or
`orcrustator.loaders`; the spec is light (a name, a pydantic config model, a factory) and the
factory imports heavy drivers only when it is called.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
from pydantic import BaseModel, ConfigDict

from orcrustator.errors import OrcError, Terminal, Transient

PluginKind = Literal["extractor", "loader"]
PLUGIN_KINDS: tuple[PluginKind, ...] = ("extractor", "loader")


class PluginError(Terminal):
    """A plugin failed and the same input would fail the same way (bad data, missing table)."""


class TransientPluginError(Transient):
    """A plugin failed for a reason that may go away (connection reset, lock timeout)."""


class TaskCancelled(OrcError):
    """The task was asked to stop (`RunContext.cancelled()` turned true); neither retry nor fail."""


class PluginConfig(BaseModel):
    """Base of every plugin's options; `type` names the plugin and unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")

    type: str


@dataclass
class CursorState:
    """The incremental cursor of one task, kept in the destination beside the rows.

    The runner reads `start` from the loader before extraction; the extractor reads rows after
    it and records the largest value it produced in `end`; the loader commits `end` in the same
    transaction as the rows. A crash anywhere therefore neither skips nor repeats a row.
    """

    key: str
    start: Any = None
    end: Any = None


@dataclass
class RunContext:
    """What a plugin may know about, and report to, the run it is part of.

    `progress(rows_extracted, rows_loaded, bytes_loaded)` takes cumulative counters; a plugin
    passes 0 for the ones it does not know (an extractor knows no loaded rows) and the runner
    keeps the largest value seen for each. `cancelled()` turns true when the task should stop:
    check it between batches and raise `TaskCancelled`.
    """

    run_id: str
    job_id: str
    task_id: str | None
    task_order: int
    data_dir: Path
    log: Callable[[str, str], None]
    progress: Callable[[int, int, int], None]
    cancelled: Callable[[], bool]
    cursor: CursorState | None = None
    """Set by the runner for incremental tasks before `batches()` is called."""
    target_schema: pa.Schema | None = None
    """The destination's existing column types, when the loader knows them: a hint extractors
    may parse into directly (a CSV column straight to decimal128 instead of float, say)."""

    def raise_if_cancelled(self) -> None:
        if self.cancelled():
            raise TaskCancelled("cancelled")


class PostgresCopySource(ABC):
    """A PostgreSQL source's rows as PostgreSQL binary COPY data, to hand over undecoded.

    Between two PostgreSQL databases, decoding every value into Arrow and encoding it again
    took more CPU (1.7 s per 1M rows) than both servers spent on the copy; passing the bytes
    through takes about a third of that. A loader uses it only when every column's declared
    type equals its destination column's, and otherwise the task takes the Arrow path.
    """

    columns: tuple[tuple[str, str], ...]
    """(name, declared type as PostgreSQL's `format_type` prints it), in the order of the data."""

    @abstractmethod
    def chunks(self) -> Iterator[tuple[bytes | bytearray, int]]:
        """The COPY data, header to trailer, as (bytes, rows in them) pieces of bounded size.

        For an incremental source, sets the context's `cursor.end` before the first piece."""

    @abstractmethod
    def close(self) -> None:
        """End the source's transaction and connection (the data need not have been read)."""


class Extractor(ABC):
    """A source: streams record batches, holding no more than a batch or two in memory."""

    @abstractmethod
    def batches(self) -> Iterator[pa.RecordBatch]:
        """Yield the source's rows as record batches (all with the same schema)."""

    def cursor_key(self) -> str | None:
        """For incremental extractors, a stable name of the cursor (e.g. its column)."""
        return None

    def postgres_copy(self) -> PostgresCopySource | None:
        """The rows as PostgreSQL binary COPY data, when the source is PostgreSQL and can.

        Called instead of `batches()` when the loader writes to PostgreSQL; None (the default)
        means the task reads `batches()` as usual."""
        return None


@dataclass(frozen=True)
class LoadResult:
    rows_loaded: int
    bytes_loaded: int


class Loader(ABC):
    """A destination: consumes a stream of record batches lazily, one at a time."""

    @abstractmethod
    def load(self, batches: Iterator[pa.RecordBatch]) -> LoadResult:
        """Write every batch; on an exception leave the destination as it was."""

    def target_schema(self) -> pa.Schema | None:
        """The destination's current column types, if it exists and the loader can tell."""
        return None


class StatefulLoader(Loader):
    """A loader that can keep an incremental cursor in the destination, committed with rows."""

    @abstractmethod
    def read_cursor(self, key: str) -> Any:
        """The committed cursor stored under `key`, or None before the first run."""

    @abstractmethod
    def load_with_cursor(
        self, batches: Iterator[pa.RecordBatch], cursor: CursorState
    ) -> LoadResult:
        """Write the batches and store `cursor.end` under `cursor.key` in one transaction."""


class PostgresCopyLoader(Loader):
    """A loader that can take a `PostgresCopySource`'s bytes as they are."""

    @abstractmethod
    def load_postgres_copy(
        self, source: PostgresCopySource, cursor: CursorState | None
    ) -> LoadResult | None:
        """Load the source's rows (and `cursor.end`) in one transaction, as `load` would.

        Returns None, having changed nothing and read nothing, when a source column's type
        differs from its destination column's: the task then loads through Arrow, which
        converts or names the conflict."""


ConfigT = TypeVar("ConfigT", bound=PluginConfig)
PluginT = TypeVar("PluginT", bound=Extractor | Loader)


@dataclass(frozen=True)
class PluginSpec(Generic[ConfigT, PluginT]):
    """How a plugin is found, configured and built; what an entry point points at."""

    name: str
    kind: PluginKind
    config_model: type[ConfigT]
    factory: Callable[[ConfigT, RunContext], PluginT]
    description: str


AnySpec = PluginSpec[Any, Any]
