"""Shared helpers for the benchmarks: fresh databases, `orc` child processes, CPU accounting,
bounded waiting, percentiles and the result table.

Everything a benchmark starts is tracked by PID and stopped by PID; every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from orcrustator.db.tables import job_definitions, task_definitions
from orcrustator.db.urls import DatabaseUrl, parse_database_url

T = TypeVar("T")

ORC = str(Path(sys.executable).with_name("orc"))
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A benchmark step failed (a process died, a wait timed out)."""


# --- waiting ------------------------------------------------------------------------------------
def wait_until(
    check: Callable[[], T | bool | None],
    timeout: float,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll `check` until it returns something truthy; BenchError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        last = check()
        if last:
            return last  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise BenchError(f"{what}: not met within {timeout:g} s (last: {last!r})")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- databases ----------------------------------------------------------------------------------
@dataclass
class BenchDatabase:
    """A fresh database owned by one benchmark run."""

    backend: str
    url: str  # what DATABASE_URL gets
    parsed: DatabaseUrl
    engine: sa.Engine  # synchronous, for the benchmark's own reads and writes
    name: str  # PostgreSQL database name, or the SQLite file path

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgresql"

    def libpq_uri(self) -> str:
        """A libpq connection URI for psql/pgbench (PostgreSQL only)."""
        url = make_url(self.url)
        return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


@contextlib.contextmanager
def fresh_database(backend: str, workdir: Path) -> Iterator[BenchDatabase]:
    """Create `orc_bench_<random>` on the PostgreSQL server of ORC_BENCH_POSTGRES_URL (or a temp
    SQLite file under `workdir`), yield it, and drop it at the end."""
    if backend == "sqlite":
        path = workdir / "orc_bench.db"
        url = f"sqlite:///{path}"
        parsed = parse_database_url(url)
        engine = _sqlite_engine(str(parsed.sync_url.render_as_string(hide_password=False)))
        try:
            yield BenchDatabase("sqlite", url, parsed, engine, str(path))
        finally:
            engine.dispose()
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{path}{suffix}").unlink()
        return

    server = os.environ.get("ORC_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    if server.startswith("postgres://"):
        server = "postgresql://" + server[len("postgres://") :]
    name = f"orc_bench_{secrets.token_hex(4)}"
    server_url = make_url(server).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = server_url.set(drivername="postgresql", database=name).render_as_string(
        hide_password=False
    )
    parsed = parse_database_url(url)
    engine = sa.create_engine(
        parsed.sync_url,
        pool_size=4,
        max_overflow=4,
        connect_args={"application_name": "orc-bench"},
    )
    try:
        yield BenchDatabase("postgresql", url, parsed, engine, name)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# --- processes ----------------------------------------------------------------------------------
def clean_env(
    *, database_url: str, data_dir: Path, log_level: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment for `orc` children: nothing inherited from ORC_* or DATABASE_URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORC_") and k != "DATABASE_URL"}
    env["DATABASE_URL"] = database_url
    env["ORC_LOG_LEVEL"] = log_level
    env["ORC_LOG_JSON"] = "true"
    env["ORC_DATA_DIR"] = str(data_dir)
    env["ORC_DRAIN_SECONDS"] = "5"
    env.update(extra or {})
    return env


# The bootstrap admin of every `orc` child a bench starts: a throwaway account in a throwaway
# database, so one password serves them all.
ADMIN_PASSWORD = "bench-admin-password"  # noqa: S105


def api_settings(port: int) -> dict[str, str]:
    """What an `orc api` or `orc up` child needs to listen on loopback with a known admin."""
    return {"ORC_HOST": "127.0.0.1", "ORC_PORT": str(port), "ORC_ADMIN_PASSWORD": ADMIN_PASSWORD}


def admin_token(base_url: str) -> str:
    """Log in as the bootstrap admin of the `orc` child at `base_url` (http://host:port)."""
    resp = httpx.post(
        f"{base_url}/api/v1/auth/token",
        data={"username": "admin", "password": ADMIN_PASSWORD},
        timeout=30.0,
    )
    resp.raise_for_status()
    return str(resp.json()["access_token"])


def _read_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds user+system) of a live process, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def descendants(pid: int) -> list[int]:
    """PIDs of every live descendant of `pid` (executor pool, fork server)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _read_stat(int(entry.name))
            if stat is not None:
                children.setdefault(stat[0], []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        stat = _read_stat(pid)
        if stat is not None:
            total += stat[1]
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, for a utilisation figure over an interval."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return float(total - idle), float(total)


def utilisation(before: tuple[float, float], after: tuple[float, float]) -> float:
    """Busy share of all cores between two `machine_cpu()` readings (0..1)."""
    busy, total = after[0] - before[0], after[1] - before[1]
    return busy / total if total > 0 else 0.0


class OrcProcess:
    """One `orc …` child with its own log file; stopped by PID, its descendants too."""

    def __init__(self, args: list[str], env: dict[str, str], workdir: Path, name: str) -> None:
        self.args = args
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [ORC, *args],
            cwd=workdir,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C on the bench reaches only the bench
        )
        self.pid = self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise BenchError(f"orc {' '.join(self.args)} exited early:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        if not self._log.closed:
            self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def tree(self) -> list[int]:
        return [self.pid, *descendants(self.pid)] if self.alive() else []

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (it drains), then SIGKILL by PID; leftover descendants are killed by PID."""
        family = descendants(self.pid) if self.alive() else []
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        deadline = time.monotonic() + 5
        for pid in family:
            while _read_stat(pid) is not None and time.monotonic() < deadline:
                time.sleep(0.05)
            if _read_stat(pid) is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if not self._log.closed:
            self._log.close()
        return self.process.returncode


@contextlib.contextmanager
def process_group() -> Iterator[list[OrcProcess]]:
    """A list to append started processes to; all are stopped on the way out."""
    started: list[OrcProcess] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.stop()


@contextlib.contextmanager
def workdir(prefix: str = "orc-bench-") -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as raw:
        path = Path(raw)
        (path / "data").mkdir()
        yield path


# --- figures ------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def verdict(
    value: float | None, *, at_least: float | None = None, at_most: float | None = None
) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "MISS"
    if at_least is not None and value < at_least:
        return "MISS"
    if at_most is not None and value > at_most:
        return "MISS"
    return "PASS"


@dataclass
class Row:
    section: str
    metric: str
    value: str
    target: str = ""
    verdict: str = ""


def print_table(title: str, rows: Sequence[Row]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain text fallback
        print(title)
        for r in rows:
            print(f"  {r.section:<12} {r.metric:<52} {r.value:>16}  {r.target:<14} {r.verdict}")
        return
    table = Table(title=title, show_lines=False)
    for column, justify in (
        ("section", "left"),
        ("metric", "left"),
        ("value", "right"),
        ("target", "left"),
        ("", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        mark = {"PASS": "[green]PASS[/]", "MISS": "[red]MISS[/]"}.get(r.verdict, r.verdict)
        table.add_row(r.section, r.metric, r.value, r.target, mark)
    Console(width=130).print(table)


def json_line(payload: dict[str, Any]) -> str:
    def default(value: object) -> object:
        if isinstance(value, float) and math.isnan(value):
            return None
        return str(value)

    def clean(value: Any) -> Any:
        if isinstance(value, float):
            return None if math.isnan(value) else round(value, 3)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(payload), default=default, separators=(",", ":"))


# --- jobs ---------------------------------------------------------------------------------------
TRIVIAL_TASK: dict[str, Any] = {
    "extractor_config": {"type": "generate", "rows": 1},
    "loader_config": {"type": "null"},
}


def _announce_jobs(db: BenchDatabase, conn: sa.Connection) -> None:
    if db.is_postgres:  # SQLite has no NOTIFY: `orc up` re-reads its jobs every few seconds
        conn.execute(sa.text("SELECT pg_notify('orc_jobs', '')"))


def insert_jobs(
    db: BenchDatabase,
    prefix: str,
    count: int,
    *,
    schedule: str,
    is_active: bool,
    max_active_runs: int,
) -> tuple[list[uuid.UUID], datetime]:
    """`count` jobs with one trivial task each, in one transaction (then NOTIFY orc_jobs)."""
    now = datetime.now(UTC)
    jobs: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    for i in range(count):
        job_id = uuid.uuid4()
        jobs.append(
            {
                "job_id": job_id,
                "job_name": f"{prefix}-{i:05d}",
                "schedule": schedule,
                "is_active": is_active,
                "timezone": "UTC",
                "max_active_runs": max_active_runs,
                "created_at": now,
                "updated_at": now,
            }
        )
        tasks.append(
            {
                "task_id": uuid.uuid4(),
                "job_id": job_id,
                "task_order": 1,
                "created_at": now,
                "updated_at": now,
                **TRIVIAL_TASK,
            }
        )
    with db.engine.begin() as conn:
        conn.execute(sa.insert(job_definitions), jobs)
        conn.execute(sa.insert(task_definitions), tasks)
        _announce_jobs(db, conn)
    return [j["job_id"] for j in jobs], now


def set_active(db: BenchDatabase, job_ids: list[uuid.UUID], active: bool) -> datetime:
    """Pause or resume jobs (then NOTIFY orc_jobs); returns when it was committed."""
    with db.engine.begin() as conn:
        # Lock the rows in job_id order first, the order a worker's claim locks them in: an
        # UPDATE alone takes them in table order and can deadlock with a claim in flight.
        conn.execute(
            sa.select(job_definitions.c.job_id)
            .where(job_definitions.c.job_id.in_(job_ids))
            .order_by(job_definitions.c.job_id)
            .with_for_update(key_share=True)
        )
        conn.execute(
            sa.update(job_definitions)
            .where(job_definitions.c.job_id.in_(job_ids))
            .values(is_active=active, updated_at=datetime.now(UTC))
        )
        _announce_jobs(db, conn)
    return datetime.now(UTC)


# --- driver -------------------------------------------------------------------------------------
def say(message: str) -> None:
    """Progress for the person watching, on stderr: stdout carries the table and JSON line."""
    print(message, file=sys.stderr, flush=True)


def exit_on_sigterm() -> None:
    def on_term(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through every cleanup block

    signal.signal(signal.SIGTERM, on_term)


def report(
    title: str,
    payload: dict[str, Any],
    measure: Callable[[], tuple[list[Row], dict[str, Any], bool]],
) -> int:
    """Run `measure`, print its table and the JSON line; the exit status says whether it passed."""
    exit_on_sigterm()
    try:
        rows, figures, ok = measure()
    except BenchError as exc:
        say(f"{payload['bench']}: {exc}")
        payload.update({"ok": False, "error": str(exc)})
        print(json_line(payload), flush=True)
        return 1
    payload.update(figures)
    print_table(title, rows)
    print(json_line(payload), flush=True)
    return 0 if ok else 1
