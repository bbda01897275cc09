"""The code that runs inside an executor process: receive a task, run it, report back.

Protocol over the duplex pipe (tuples, so pickling stays cheap):

- supervisor → child: `("run", TaskSpec)`; closing the pipe asks the child to exit.
- child → supervisor: `("ready", pid)` once warm, then for each task any number of
  `("log", level, message)` and `("progress", rows_extracted, rows_loaded, bytes_loaded)`,
  ending with `("done", status, rows_extracted, rows_loaded, bytes_loaded, error, transient)`.

Cancellation is a shared boolean the supervisor sets; `RunContext.cancelled()` reads it, and
the runner checks it between batches too. A task error never ends the process: it is reported
as a failed outcome and the process waits for the next task. While a task runs, a watch on
the pipe cancels it, and ends the process if need be, when the worker is gone (see `lifeline`).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, Protocol

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

from orcrustator.errors import InvalidInput, OrcError, Transient
from orcrustator.plugins import registry, secrets
from orcrustator.plugins.base import (
    CursorState,
    Extractor,
    Loader,
    LoadResult,
    PluginKind,
    PostgresCopyLoader,
    RunContext,
    StatefulLoader,
    TaskCancelled,
)
from orcrustator.plugins.paths import DATA_DIR_CONTEXT_KEY
from orcrustator.worker.lifeline import SupervisorWatch

PROGRESS_INTERVAL = 0.5  # seconds between progress messages of one task: at most ~2/s

ChildStatus = Literal["success", "failed", "cancelled"]
_TRANSIENT_ERRORS = (Transient, ConnectionError, TimeoutError)


class CancelFlag(Protocol):
    value: bool


@dataclass(frozen=True)
class TaskSpec:
    """One task of one run, as the supervisor hands it to an executor process."""

    run_id: str
    job_id: str
    task_id: str | None
    task_order: int
    extractor_config: dict[str, Any]
    loader_config: dict[str, Any]
    data_dir: str
    # The worker's values of the variables the configs reference: the executor's own
    # environment is the fork server's, as it was when the worker started.
    environ: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        extractor = self.extractor_config.get("type", "?")
        loader = self.loader_config.get("type", "?")
        return f"task {self.task_order} ({extractor} → {loader})"


@dataclass(frozen=True)
class ChildResult:
    status: ChildStatus
    rows_extracted: int
    rows_loaded: int
    bytes_loaded: int
    error_message: str | None = None
    transient: bool = False


class _Reporter:
    """Sends a task's logs at once and its progress throttled, keeping the largest counters."""

    def __init__(self, send: Callable[[tuple[Any, ...]], None]) -> None:
        self._send = send
        self.counters = [0, 0, 0]
        self.secrets: set[str] = set()
        self._sent = (0, 0, 0)
        self._last_sent_at = time.monotonic()

    def log(self, level: str, message: str) -> None:
        self._send(("log", str(level).upper(), secrets.mask_text(str(message), self.secrets)))

    def progress(self, rows_extracted: int, rows_loaded: int, bytes_loaded: int) -> None:
        values = (rows_extracted, rows_loaded, bytes_loaded)
        self.counters = [max(old, int(new)) for old, new in zip(self.counters, values, strict=True)]
        now = time.monotonic()
        if now - self._last_sent_at >= PROGRESS_INTERVAL:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        current = (self.counters[0], self.counters[1], self.counters[2])
        if current != self._sent:
            self._send(("progress", *current))
            self._sent = current
        self._last_sent_at = time.monotonic() if now is None else now


class _ForwardWarnings(logging.Handler):
    """Python `logging` records of WARNING and above from a plugin's libraries become task logs."""

    def __init__(self, reporter: _Reporter) -> None:
        super().__init__(logging.WARNING)
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.reporter.log(record.levelname, f"{record.name}: {record.getMessage()}")
        except Exception:  # never let logging break the task
            self.handleError(record)


def _validated(kind: PluginKind, config: dict[str, Any], data_dir: Path) -> Any:
    name = config.get("type") if isinstance(config, dict) else None
    try:
        if isinstance(name, str):
            registry.get_spec(kind, name)  # an unknown type says so, without the wrapping below
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field=f"{kind}_config.type") from None
    try:
        return registry.validate_config(kind, config, context={DATA_DIR_CONTEXT_KEY: data_dir})
    except InvalidInput as exc:
        field = f"{kind}_config.{exc.field}" if exc.field else f"{kind}_config"
        raise InvalidInput(
            f"invalid {kind} config for '{name}': {exc.message}", field=field
        ) from None


_PREFETCH_BATCHES = 2
_DONE = object()


def _prefetched(batches: Iterator[pa.RecordBatch]) -> Generator[pa.RecordBatch, None, None]:
    """Run the extractor one or two batches ahead of the loader, in a thread of its own.

    Reading a source and writing a destination then overlap (Arrow, ADBC and the drivers do
    their work outside the GIL), while memory stays bounded by the small queue. An error in
    the extractor is raised here, in the loader's thread, as if the two ran in line. The whole
    extractor runs in that one thread: drivers such as sqlite3 refuse to be used from another.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=_PREFETCH_BATCHES)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        handoff.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put(_DONE)
        except BaseException as exc:  # handed to the consumer, re-raised there
            handoff.put(exc)
        finally:
            close = getattr(batches, "close", None)
            if stop.is_set() and close is not None:
                with contextlib.suppress(Exception):
                    close()

    producer = threading.Thread(target=produce, name="extractor", daemon=True)
    producer.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while producer.is_alive():  # let the producer see `stop` even if it waits on put()
            with contextlib.suppress(queue.Empty):
                handoff.get_nowait()
            producer.join(timeout=0.05)


def _counted(
    batches: Iterator[pa.RecordBatch], reporter: _Reporter, cancelled: Callable[[], bool]
) -> Generator[pa.RecordBatch, None, None]:
    rows = 0
    for batch in batches:
        if cancelled():
            raise TaskCancelled("cancelled")
        rows += batch.num_rows
        reporter.progress(rows, 0, 0)
        yield batch
    if cancelled():
        raise TaskCancelled("cancelled")


def _copied_between_postgres(
    extractor: Extractor, loader: Loader, ctx: RunContext
) -> LoadResult | None:
    """PostgreSQL to PostgreSQL as undecoded binary COPY data, when both plugins offer it and
    the column types agree (see `PostgresCopySource`); None when the task goes through Arrow."""
    if not isinstance(loader, PostgresCopyLoader):
        return None
    source = extractor.postgres_copy()
    if source is None:
        return None
    try:
        return loader.load_postgres_copy(source, ctx.cursor)
    finally:
        source.close()


def run_task(spec: TaskSpec, reporter: _Reporter, cancelled: Callable[[], bool]) -> ChildResult:
    """Validate, build and run one task; every exception becomes a failed (or cancelled) result."""
    secret_values: set[str] = set()
    try:
        data_dir = Path(spec.data_dir)
        # References resolve here, in the task's process, from the worker's environment; the
        # values are remembered so that no message leaving this process repeats them.
        environ = {**os.environ, **spec.environ}
        raw_extractor, used = secrets.resolve(spec.extractor_config, environ)
        secret_values |= used
        raw_loader, used = secrets.resolve(spec.loader_config, environ)
        secret_values |= used
        reporter.secrets = secret_values
        extractor_config = _validated("extractor", raw_extractor, data_dir)
        loader_config = _validated("loader", raw_loader, data_dir)
        ctx = RunContext(
            run_id=spec.run_id,
            job_id=spec.job_id,
            task_id=spec.task_id,
            task_order=spec.task_order,
            data_dir=Path(spec.data_dir),
            log=reporter.log,
            progress=reporter.progress,
            cancelled=cancelled,
        )
        extractor = registry.get_spec("extractor", extractor_config.type).factory(
            extractor_config, ctx
        )
        loader = registry.get_spec("loader", loader_config.type).factory(loader_config, ctx)
        if not isinstance(extractor, Extractor) or not isinstance(loader, Loader):
            raise TypeError("a plugin factory returned the wrong kind of object")
        cursor_key = extractor.cursor_key()
        if cursor_key is not None:
            if not isinstance(loader, StatefulLoader):
                raise InvalidInput(
                    f"incremental extraction ({cursor_key}) needs a loader that keeps the cursor "
                    f"with the rows (postgres or sqlite), not '{loader_config.type}'",
                    field="loader_config.type",
                )
            key = f"{spec.job_id}:{spec.task_id}:{cursor_key}"
            ctx.cursor = CursorState(key=key, start=loader.read_cursor(key))
        result = _copied_between_postgres(extractor, loader, ctx)
        if result is None:
            ctx.target_schema = loader.target_schema()
            stream = _counted(_prefetched(extractor.batches()), reporter, cancelled)
            try:
                if ctx.cursor is not None and isinstance(loader, StatefulLoader):
                    result = loader.load_with_cursor(stream, ctx.cursor)
                else:
                    result = loader.load(stream)
            finally:
                stream.close()
        reporter.progress(reporter.counters[0], result.rows_loaded, result.bytes_loaded)
        reporter.flush()
        extracted, _, _ = reporter.counters
        return ChildResult("success", extracted, result.rows_loaded, result.bytes_loaded)
    except TaskCancelled:
        reporter.flush()
        extracted, loaded, nbytes = reporter.counters
        return ChildResult("cancelled", extracted, loaded, nbytes, error_message="cancelled")
    except Exception as exc:
        reporter.flush()
        if isinstance(exc, OrcError):
            cause = exc.message
        else:
            cause = f"{type(exc).__name__}: {exc}"
            reporter.log("ERROR", f"{spec.label}: {traceback.format_exc().rstrip()}")
        transient = isinstance(exc, _TRANSIENT_ERRORS)
        extracted, loaded, nbytes = reporter.counters
        message = secrets.mask_text(f"{spec.label}: {cause}", secret_values)
        return ChildResult("failed", extracted, loaded, nbytes, message, transient=transient)


def child_main(conn: Connection, cancel_flag: CancelFlag) -> None:
    """Entry point of an executor process: warm up, then serve tasks until the pipe closes."""
    # Ctrl-C reaches the whole process group; the supervisor decides what stops and when.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    registry.list_specs()  # import every plugin's spec module now, not during the first task
    # What the process holds now (modules, specs) lives as long as it does: out of the garbage
    # collector's sight, a full collection during a task walks the task's objects only.
    gc.freeze()
    lock = threading.Lock()  # a plugin may log from its own threads

    def send(message: tuple[Any, ...]) -> None:
        with lock, contextlib.suppress(OSError):  # the supervisor is gone: recv() will end us
            conn.send(message)

    watch = SupervisorWatch(conn.fileno(), lambda: setattr(cancel_flag, "value", True))
    send(("ready", os.getpid()))
    root = logging.getLogger()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if not (isinstance(message, tuple) and message and message[0] == "run"):
            break
        spec: TaskSpec = message[1]
        reporter = _Reporter(send)
        handler = _ForwardWarnings(reporter)
        root.addHandler(handler)
        try:
            with watch.watching():
                result = run_task(spec, reporter, lambda: bool(cancel_flag.value))
        except Exception as exc:  # a bug here must not cost the process (nor its pool slot)
            result = ChildResult("failed", 0, 0, 0, f"{spec.label}: executor error: {exc!r}")
        finally:
            root.removeHandler(handler)
        send(
            (
                "done",
                result.status,
                result.rows_extracted,
                result.rows_loaded,
                result.bytes_loaded,
                result.error_message,
                result.transient,
            )
        )
    conn.close()
