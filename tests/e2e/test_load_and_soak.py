"""The load and soak benchmarks in their short forms, as CI runs them (PostgreSQL only).

Each runs as a subprocess exactly as a person would run it; the assertions read the JSON line it
prints last. Latency and start delay are reported, not asserted: on a shared 2-core machine they
measure the neighbours as much as us. What must hold on any machine is asserted: no error
response, correct totals and pages, no run lost, memory flat.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import postgres_server_url

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_bench(script: str, *args: str, timeout: float) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORC_")}
    env["ORC_BENCH_POSTGRES_URL"] = postgres_server_url()
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    # Lines cut short: an SQL error's parameter list would otherwise push its message out.
    err = "\n".join(line[:400] for line in done.stderr.splitlines()[-60:])
    assert lines, f"{script} printed nothing (exit {done.returncode}):\n{err}"
    figures: dict[str, Any] = json.loads(lines[-1])
    report = f"{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    assert "error" not in figures, report
    assert done.returncode == 0, report
    return figures


@pytest.mark.timeout(900)
def test_api_load_quick_has_no_errors() -> None:
    figures = run_bench("api_load.py", "--quick", timeout=840)
    assert figures["jobs"] == 10_000
    assert figures["runs"] == 200_000
    assert figures["check_problems"] == []
    assert figures["errors"] == 0, figures["error_examples"]
    assert figures["mix"]["requests"] > 0
    for name, endpoint in figures["endpoints"].items():
        assert endpoint["requests"] > 0, f"{name} was never requested"
        assert endpoint["errors"] == 0, name


@pytest.mark.timeout(900)
def test_soak_two_minutes_loses_nothing_and_stays_flat() -> None:
    figures = run_bench("soak.py", "--minutes", "2", timeout=840)
    assert figures["missing_slots"] == 0
    assert figures["duplicated_slots"] == 0
    assert figures["not_final"] == 0
    assert figures["unfinished_after_grace"] == 0
    assert figures["not_success"] == 0, figures["statuses"]
    assert figures["expected_slots"] >= 50 * 60  # at least a minute's worth of slots checked
    assert figures["no_run_lost"]
    assert figures["memory_flat"], figures["memory"]
    assert figures["api_errors"] == {}
    assert figures["ok"]
