"""A throw-away PostgreSQL cluster that a test may stop and start at will.

Fault tests must never stop the machine's shared server, so they make their own: `initdb` into
a temporary directory, listening on 127.0.0.1 and a free port only, trust authentication, no
Unix socket. PostgreSQL refuses to run as root, so as root every server command runs as the
`postgres` user, which then owns the directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

PG_BIN_ENV = "ORC_TEST_PG_BIN"


def _find_bin() -> Path | None:
    configured = os.environ.get(PG_BIN_ENV)
    if configured:
        return Path(configured)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def unavailable(reason: str) -> None:
    """Fail in CI (where every fault test must run), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: fault tests must run in CI")
    pytest.skip(reason)


class PrivatePostgres:
    def __init__(self, port: int) -> None:
        bin_dir = _find_bin()
        if bin_dir is None or not (bin_dir / "pg_ctl").exists():
            unavailable(f"no PostgreSQL server binaries (set {PG_BIN_ENV})")
        assert bin_dir is not None
        self.bin = bin_dir
        self.port = port
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            try:
                self._owner = pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root, but there is no `postgres` user to run a server")
        # Not under pytest's tmp_path: it is private to root, and the server runs as postgres.
        self.root = Path(tempfile.mkdtemp(prefix="orc-private-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if self._as_postgres:
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args[:2])} failed ({result.returncode}):\n{result.stdout}\n"
                f"{result.stderr}\n{self.server_log()}"
            )

    def server_log(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync")  # fmt: skip
        settings = (
            "listen_addresses = '127.0.0.1'\n"
            f"port = {self.port}\n"
            "unix_socket_directories = ''\n"
            "fsync = off\n"  # a test cluster: speed over durability
            "synchronous_commit = off\n"
            "full_page_writes = off\n"
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(settings)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        """Stop the server if it runs (immediately: nothing in it is kept), remove every file."""
        try:
            if self.is_running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
