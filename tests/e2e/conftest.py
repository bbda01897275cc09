"""Real `orc` processes, started by PID and stopped by PID, driven over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ORC = str(Path(sys.executable).with_name("orc"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OrcProcess:
    """One `orc …` child process with its own environment and log file."""

    def __init__(self, args: list[str], env: dict[str, str], workdir: Path, name: str) -> None:
        self.args = args
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [ORC, *args], cwd=workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for_http(self, url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"orc {self.args} exited early:\n{self.output()}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"orc {self.args} not ready at {url}:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()
        return self.process.returncode


@pytest.fixture
def orc_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment for child processes: no inherited ORC_/DATABASE_URL settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORC_") and k != "DATABASE_URL"}
    env["ORC_LOG_JSON"] = "true"
    env["ORC_DATA_DIR"] = str(tmp_path / "data")
    return env


@pytest.fixture
def processes() -> Iterator[list[OrcProcess]]:
    started: list[OrcProcess] = []
    yield started
    for proc in started:
        proc.stop(signal.SIGKILL)
