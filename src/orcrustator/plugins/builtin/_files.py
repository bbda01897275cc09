"""What the file plugins (csv, jsonl, parquet) share: paths, atomic writes, errors, type names.

A loader never writes its destination in place. It writes a temporary sibling
(`.<name>.orc-tmp-<random>`), fsyncs it and `os.replace`s it onto the target, so readers see
the old file or the new one, never half of one; on any exception (a failed source, a
cancellation, a full disk) the temporary file is removed and the destination is untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
import zoneinfo
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

from orcrustator.errors import OrcError
from orcrustator.plugins.base import Loader, LoadResult, PluginError, RunContext
from orcrustator.plugins.paths import resolve_data_path

MIB = 1024 * 1024
TYPE_EXAMPLES = "int64, float64, string, bool, date32, decimal128(12,2), timestamp[us, tz=UTC]"


def data_file(ctx: RunContext, path: str) -> tuple[Path, str]:
    """The absolute path of a config's `path`, and its name in messages (data-dir relative)."""
    resolved = resolve_data_path(ctx.data_dir, path)
    try:
        shown = resolved.relative_to(ctx.data_dir.resolve()).as_posix()
    except ValueError:  # pragma: no cover - resolve_data_path refuses such paths
        shown = path
    return resolved, shown


# --- type names --------------------------------------------------------------------------
_DECIMAL = re.compile(r"(decimal(?:128|256)?|numeric)\(\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?\)")
_TIMESTAMP = re.compile(
    r"timestamp\[\s*(s|ms|us|ns)\s*(?:,\s*tz\s*=\s*([^\]\s][^\]]*?))?\s*\]", re.IGNORECASE
)
_OFFSET = re.compile(r"[+-]\d{2}:\d{2}")


def parse_arrow_type(text: str) -> pa.DataType:
    """An Arrow type from its name as Arrow prints it: `int64`, `decimal128(12, 2)`, ...

    Raises ValueError for anything else.
    """
    value = text.strip()
    lowered = value.lower()
    if match := _DECIMAL.fullmatch(lowered):
        precision, scale = int(match.group(2)), int(match.group(3) or 0)
        if not 1 <= precision <= 76:
            raise ValueError(f"decimal precision must be 1 to 76, not {precision}")
        maker = pa.decimal256 if precision > 38 or match.group(1) == "decimal256" else pa.decimal128
        return maker(precision, scale)
    if match := _TIMESTAMP.fullmatch(value):
        tz = match.group(2)
        if tz is not None and tz != "UTC" and not _OFFSET.fullmatch(tz):
            try:
                zoneinfo.ZoneInfo(tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone '{tz}'") from None
        return pa.timestamp(match.group(1).lower(), tz=tz)
    try:
        return pa.type_for_alias(lowered)
    except (ValueError, KeyError):
        raise ValueError(f"unknown type '{text}' (examples: {TYPE_EXAMPLES})") from None


def check_column_types(columns: Mapping[str, str] | None) -> Mapping[str, str] | None:
    """A pydantic validator body: every type name parses, else an error naming its column."""
    for name, text in (columns or {}).items():
        try:
            parse_arrow_type(text)
        except ValueError as exc:
            raise ValueError(f"column '{name}': {exc}") from None
    return columns


def column_types(columns: Mapping[str, str] | None) -> dict[str, pa.DataType]:
    return {name: parse_arrow_type(text) for name, text in (columns or {}).items()}


def empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    """A zero-row batch: how an extractor passes on a schema when the source has no rows."""
    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)


# --- errors ------------------------------------------------------------------------------
def os_error(exc: OSError, shown: str, action: str) -> PluginError:
    """A terminal error for a failed read or write of `shown` (`action`: 'reading', 'writing')."""
    code = exc.errno
    text = str(exc)
    if code == errno.ENOSPC or "No space left on device" in text:
        return PluginError(f"no space left on device {action} {shown}")
    if code == errno.ENOENT or isinstance(exc, FileNotFoundError):
        return PluginError(f"file '{shown}' not found in the data directory")
    if code == errno.EISDIR or isinstance(exc, IsADirectoryError) or "is a directory" in text:
        return PluginError(f"'{shown}' is a directory, not a file")
    if code == errno.EACCES or isinstance(exc, PermissionError):
        return PluginError(f"permission denied {action} {shown}")
    detail = exc.strerror or text
    return PluginError(f"I/O error {action} {shown}: {detail}")


def arrow_message(exc: Exception) -> str:
    """Arrow's message, with a hint when a row did not fit in a block."""
    text = str(exc)
    if "straddl" in text:
        text += " (a row is longer than the `block_size` option: raise it)"
    return text


@contextlib.contextmanager
def plugin_errors(shown: str, action: str) -> Iterator[None]:
    """Turn OS and Arrow errors inside the block into PluginErrors naming the file."""
    try:
        yield
    except OrcError:
        raise
    except OSError as exc:
        raise os_error(exc, shown, action) from exc
    except (pa.ArrowException, ValueError) as exc:
        raise PluginError(f"error {action} {shown}: {arrow_message(exc)}") from exc


# --- atomic writes -----------------------------------------------------------------------
def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


class AtomicFile:
    """A temporary sibling of `target` that replaces it on `commit()`, or vanishes on error.

    Use as a context manager: write to `tmp_path` inside it, call `commit()` last; leaving the
    block without a commit (an exception, a cancellation) removes the temporary file.
    """

    def __init__(self, target: Path, shown: str) -> None:
        self.target = target
        self.shown = shown
        self.tmp_path = target.with_name(f".{target.name}.orc-tmp-{secrets.token_hex(6)}")
        self._committed = False

    def __enter__(self) -> AtomicFile:
        with plugin_errors(self.shown, "writing"):
            if self.target.is_dir():
                raise IsADirectoryError(errno.EISDIR, "is a directory", str(self.target))
            self.target.parent.mkdir(parents=True, exist_ok=True)
            try:
                mode = stat.S_IMODE(self.target.stat().st_mode)
            except FileNotFoundError:
                mode = 0o666 & ~_umask()
            fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
        return self

    def commit(self) -> int:
        """Make the written file durable and put it in place; return its size in bytes."""
        with plugin_errors(self.shown, "writing"):
            fd = os.open(self.tmp_path, os.O_RDWR)
            try:
                os.fsync(fd)
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
            os.replace(self.tmp_path, self.target)
            self._committed = True
            with contextlib.suppress(OSError):  # not every file system syncs directories
                dir_fd = os.open(self.target.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        return size

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed:
            with contextlib.suppress(FileNotFoundError):
                self.tmp_path.unlink()


def check_schema(batch: pa.RecordBatch, schema: pa.Schema, shown: str) -> None:
    """Every batch written to one file must have the first batch's schema."""
    if not batch.schema.equals(schema):
        raise PluginError(
            f"writing {shown}: a batch's columns ({describe(batch.schema)}) differ from the "
            f"first batch's ({describe(schema)})"
        )


def describe(schema: pa.Schema) -> str:
    return ", ".join(f"{field.name}: {field.type}" for field in schema)


# --- the shared read and write loops -----------------------------------------------------
def read_batches(
    ctx: RunContext,
    shown: str,
    reader: pa.RecordBatchReader,
    *,
    convert: Callable[[pa.RecordBatch], pa.RecordBatch] | None = None,
    explain: Callable[[str], str] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream `reader`, one batch at a time, and close it at the end.

    Cancellation is checked before each batch, empty batches are dropped, and a source without
    any row yields one empty batch carrying its schema (so a loader can still write it).
    Arrow parse errors become PluginErrors naming the file (`explain` may add to the message).
    """
    rows = 0
    schema = None
    with contextlib.closing(reader):
        while True:
            ctx.raise_if_cancelled()
            with plugin_errors(shown, "reading"):
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except pa.ArrowInvalid as exc:
                    message = arrow_message(exc)
                    if explain is not None:
                        message = explain(message)
                    raise PluginError(f"error reading {shown}: {message}") from exc
                if convert is not None:
                    batch = convert(batch)
            schema = batch.schema
            if batch.num_rows == 0:
                continue
            rows += batch.num_rows
            ctx.progress(rows, 0, 0)
            yield batch
        if rows == 0:
            yield empty_batch(schema if schema is not None else reader.schema)


class FileWriter(ABC):
    """One output file being written, made by a `FileLoader` for the stream's schema."""

    @abstractmethod
    def write(self, batch: pa.RecordBatch) -> None: ...

    @abstractmethod
    def tell(self) -> int:
        """Bytes written so far (for progress)."""

    @abstractmethod
    def close(self) -> None:
        """Finish the file (footer, flush); after this it is complete."""

    @abstractmethod
    def abort(self) -> None:
        """Release the file after an error, ignoring further errors."""


class FileLoader(Loader):
    """A loader that writes one file atomically; subclasses only say how to write the format.

    Whatever the stream does (raise, get cancelled, fill the disk) the destination is either
    the complete new file or exactly the old one, and no temporary file is left behind.
    """

    def __init__(self, path: str, ctx: RunContext) -> None:
        self.ctx = ctx
        self.target, self.shown = data_file(ctx, path)

    @abstractmethod
    def open_writer(self, path: Path, schema: pa.Schema | None) -> FileWriter:
        """A writer into `path`; `schema` is None when the stream had no batch at all."""

    def load(self, batches: Iterator[pa.RecordBatch]) -> LoadResult:
        rows = 0
        with AtomicFile(self.target, self.shown) as out:
            writer: FileWriter | None = None
            schema: pa.Schema | None = None
            try:
                for batch in batches:  # an error from the source passes through unchanged
                    self.ctx.raise_if_cancelled()
                    with plugin_errors(self.shown, "writing"):
                        if writer is None:
                            schema = batch.schema
                            writer = self.open_writer(out.tmp_path, schema)
                        else:
                            check_schema(batch, schema, self.shown)
                        writer.write(batch)
                        written = writer.tell()
                    rows += batch.num_rows
                    self.ctx.progress(0, rows, written)
                self.ctx.raise_if_cancelled()
                with plugin_errors(self.shown, "writing"):
                    if writer is None:
                        writer = self.open_writer(out.tmp_path, None)
                    writer.close()
            except BaseException:
                if writer is not None:
                    writer.abort()
                raise
            size = out.commit()
        self.ctx.progress(0, rows, size)
        return LoadResult(rows_loaded=rows, bytes_loaded=size)
