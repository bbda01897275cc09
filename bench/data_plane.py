"""Data-plane benchmark: real job runs against the limit measured in the same run.

    .venv/bin/python bench/data_plane.py [--rows 1000000 --rows 10000000] [--quick]

(a) CSV → PostgreSQL through a job run (API trigger to `success`) vs `psql \\copy` of the same
file; (b) PostgreSQL → PostgreSQL table copy vs `COPY … TO STDOUT | COPY … FROM STDIN` through
psql; (c) CSV → Parquet vs pyarrow alone. For each: seconds, rows/s, the ratio to the limit and
the peak RSS of the executor process that ran the task. The control plane is `orc up` on
SQLite; the data goes to a fresh PostgreSQL database on ORC_BENCH_POSTGRES_URL's server.
Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    BenchDatabase,
    OrcProcess,
    Row,
    admin_token,
    api_settings,
    cpu_seconds,
    descendants,
    free_port,
    fresh_database,
    json_line,
    print_table,
    process_group,
    verdict,
    wait_until,
    workdir,
)
from bench._common import clean_env as orc_env

SHARED = Path(__file__).resolve().parents[2] / "shared" / "bench"
CACHE = Path(os.environ.get("ORC_BENCH_CACHE", "/tmp/orc-bench-data"))  # noqa: S108 - a cache
TABLE_DDL = """CREATE TABLE {name} (
    id bigint, qty integer, score double precision, code text, description text,
    active boolean, created_date date, updated_at timestamptz, maybe_int integer,
    amount numeric(12,2))"""


def csv_file(rows: int) -> Path:
    """The deterministic input of `rows` rows, generated once and cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"rows_{rows}.csv"
    if not path.exists():
        print(f"generating {rows:,} rows into {path} …", flush=True)
        partial = path.with_suffix(".partial")
        subprocess.run(
            [sys.executable, str(SHARED / "gen_rows.py"), str(rows), str(partial)], check=True
        )
        partial.rename(path)
    return path


def timed(command: list[str] | str, *, shell: bool = False) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, shell=shell, capture_output=True)
    return time.perf_counter() - started


def psql(db: BenchDatabase, sql: str) -> list[str]:
    out = subprocess.run(
        ["psql", db.libpq_uri(), "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.splitlines()


class Server:
    """`orc up` on SQLite, driven over HTTP like a user would."""

    def __init__(self, port: int, token: str) -> None:
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )

    def run_job(
        self, name: str, extractor: dict[str, Any], loader: dict[str, Any]
    ) -> dict[str, Any]:
        job = self.http.post(
            "/jobs",
            json={
                "job_name": name,
                "schedule": "0 0 1 1 *",
                "tasks": [
                    {"task_order": 1, "extractor_config": extractor, "loader_config": loader}
                ],
            },
        )
        job.raise_for_status()
        started = time.perf_counter()
        run = self.http.post(f"/jobs/{job.json()['job_id']}/runs").json()

        def finished() -> dict[str, Any] | None:
            detail: dict[str, Any] = self.http.get(f"/runs/{run['run_id']}").json()
            return detail if detail["status"] in ("success", "failed", "cancelled") else None

        detail = wait_until(finished, timeout=3600, interval=0.05, what=f"job {name}")
        elapsed = time.perf_counter() - started
        if detail["status"] != "success":
            raise RuntimeError(f"job {name} ended {detail['status']}: {detail['error_message']}")
        task = detail["task_runs"][0]

        def span(record: dict[str, Any], start: str, end: str) -> float:
            return (
                datetime.fromisoformat(record[end]) - datetime.fromisoformat(record[start])
            ).total_seconds()

        return {
            "seconds": elapsed,
            "rows": task["rows_loaded"],
            # Where the time went: queued → started, the run, its one task.
            "queued_seconds": span(detail, "created_at", "started_at"),
            "run_seconds": span(detail, "started_at", "finished_at"),
            "task_seconds": span(task, "started_at", "finished_at"),
        }


def executor_pids(server: OrcProcess) -> list[int]:
    return descendants(server.pid)


def reset_peaks(pids: list[int]) -> None:
    """Reset each process's peak-RSS mark (Linux `clear_refs` 5), so the next read is this run's."""
    for pid in pids:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss_mb(pids: list[int]) -> float:
    peaks = []
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return max(peaks, default=float("nan"))


def measure(
    server: Server, proc: OrcProcess, name: str, extractor: dict[str, Any], loader: dict[str, Any]
) -> dict[str, Any]:
    pids = executor_pids(proc)
    reset_peaks(pids)
    control_before = cpu_seconds([proc.pid])
    result = server.run_job(name, extractor, loader)
    result["peak_rss_mb"] = peak_rss_mb(executor_pids(proc))
    # What `orc up` itself (api, scheduler, worker; not the executors) spent meanwhile: on a
    # two-core machine it competes with the task for CPU.
    result["control_cpu_seconds"] = cpu_seconds([proc.pid]) - control_before
    return result


def pyarrow_alone(csv_path: Path, out: Path) -> float:
    """CSV → Parquet with pyarrow's streaming reader and writer, nothing else."""
    script = (
        "import sys, pyarrow.csv as c, pyarrow.parquet as pq\n"
        "r = c.open_csv(sys.argv[1], read_options=c.ReadOptions(block_size=1<<20))\n"
        "w = pq.ParquetWriter(sys.argv[2], r.schema, compression='snappy')\n"
        "for b in r: w.write_batch(b)\n"
        "w.close()\n"
    )
    return timed([sys.executable, "-c", script, str(csv_path), str(out)])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, action="append", help="CSV sizes (repeatable)")
    parser.add_argument("--quick", action="store_true", help="200k rows only")
    parser.add_argument(
        "--repeat", type=int, default=3, help="PostgreSQL → PostgreSQL pairs; medians [3]"
    )
    args = parser.parse_args()
    sizes = args.rows or ([200_000] if args.quick else [1_000_000, 10_000_000])

    rows: list[Row] = []
    figures: dict[str, Any] = {"sizes": sizes}
    with workdir("orc-bench-data-") as work, fresh_database("postgresql", work) as dest:
        data_dir = work / "data"
        files = {n: csv_file(n) for n in sizes}
        for path in files.values():
            # A hard link, not a symlink: the data directory refuses links that lead outside it.
            os.link(path, data_dir / path.name)
        port = free_port()
        env = orc_env(
            database_url=f"sqlite:///{work / 'control.db'}",
            data_dir=data_dir,
            log_level="WARNING",
            extra={**api_settings(port), "ORC_WORKER_CONCURRENCY": "1"},
        )
        with process_group() as started:
            proc = OrcProcess(["up"], env, work, "orc-up")
            started.append(proc)
            wait_until(lambda: _healthy(port), 60, what="orc up")
            token = admin_token(f"http://127.0.0.1:{port}")
            server = Server(port, token)
            pg_url = dest.libpq_uri()

            for n, path in files.items():
                key = f"csv_to_pg_{n}"
                psql(dest, f"{TABLE_DDL.format(name='limit_' + str(n))}")
                psql(dest, f"{TABLE_DDL.format(name='ours_' + str(n))}")
                limit = timed(
                    [
                        "psql",
                        pg_url,
                        "-Xq",
                        "-c",
                        f"\\copy limit_{n} FROM '{path}' WITH (FORMAT csv, HEADER true)",
                    ]
                )
                ours = measure(
                    server,
                    proc,
                    key,
                    {"type": "csv", "path": path.name},
                    {"type": "postgres", "url": pg_url, "table": f"ours_{n}"},
                )
                count, id_sum, amount_sum = psql(
                    dest, f"SELECT count(*), sum(id), sum(amount) FROM ours_{n}"
                )[0].split("|")
                expected = psql(dest, f"SELECT count(*), sum(id), sum(amount) FROM limit_{n}")[0]
                same = f"{count}|{id_sum}|{amount_sum}" == expected
                ratio = ours["seconds"] / limit
                target = 1.2 if n <= 1_000_000 else 0.8
                figures[key] = {**ours, "limit_seconds": limit, "ratio": ratio, "same_data": same}
                label = f"{n / 1e6:g}M rows"
                rows += [
                    Row("csv→pg", f"{label}: psql \\copy (limit)", f"{limit:.2f} s"),
                    Row(
                        "csv→pg",
                        f"{label}: job run",
                        f"{ours['seconds']:.2f} s",
                        f"{n / ours['seconds']:,.0f} rows/s",
                    ),
                    Row(
                        "csv→pg",
                        f"{label}: ratio to \\copy",
                        f"{ratio:.2f}×",
                        f"≤ {target}×",
                        verdict(ratio, at_most=target),
                    ),
                    Row(
                        "csv→pg",
                        f"{label}: peak executor RSS",
                        f"{ours['peak_rss_mb']:.0f} MB",
                        "≤ 300 MB",
                        verdict(ours["peak_rss_mb"], at_most=300),
                    ),
                    Row(
                        "csv→pg",
                        f"{label}: rows, sums equal to \\copy",
                        str(same),
                        "True",
                        "PASS" if same else "MISS",
                    ),
                ]

            first = sizes[0]
            measure(
                server,
                proc,
                "csv_to_pg_auto",
                {"type": "csv", "path": files[first].name},
                {"type": "postgres", "url": pg_url, "table": "auto_created"},
            )
            types = dict(
                line.split("|")
                for line in psql(
                    dest,
                    "SELECT column_name || '|' || data_type FROM information_schema.columns "
                    "WHERE table_name = 'auto_created' ORDER BY ordinal_position",
                )
            )
            figures["auto_created_types"] = types
            typed = [c for c, t in types.items() if t != "text"]
            rows.append(
                Row(
                    "csv→pg",
                    "new table created from the CSV: typed columns",
                    f"{len(typed)}/{len(types)}",
                    "all but text",
                    "",
                )
            )

            source = f"limit_{first}"
            # The CSV loads above leave 1M-row tables that autovacuum would visit in the middle
            # of the copies; settle them first, then alternate limit and job run and take the
            # medians, so that neither side alone meets a busy moment of this shared machine.
            psql(dest, "VACUUM ANALYZE")
            limits: list[float] = []
            runs: list[dict[str, Any]] = []
            for attempt in range(args.repeat):
                pipe_table, job_table = f"pipe_copy_{attempt}", f"job_copy_{attempt}"
                psql(dest, TABLE_DDL.format(name=pipe_table))
                psql(dest, TABLE_DDL.format(name=job_table))
                # The limit is psql piping into psql, so a shell pipeline.
                pipeline = (
                    f"psql '{pg_url}' -Xqc 'COPY {source} TO STDOUT' | "
                    f"psql '{pg_url}' -Xqc 'COPY {pipe_table} FROM STDIN'"
                )
                limits.append(timed(pipeline, shell=True))  # noqa: S604
                runs.append(
                    measure(
                        server,
                        proc,
                        f"pg_to_pg_{attempt}",
                        {"type": "sql", "url": pg_url, "table": source},
                        {"type": "postgres", "url": pg_url, "table": job_table},
                    )
                )
            limit = statistics.median(limits)
            ours = sorted(runs, key=lambda r: float(r["seconds"]))[len(runs) // 2]
            ours = {**ours, "all_seconds": [r["seconds"] for r in runs], "all_limits": limits}
            ratio = ours["seconds"] / limit
            figures["pg_to_pg"] = {**ours, "limit_seconds": limit, "ratio": ratio}
            rows += [
                Row(
                    "pg→pg",
                    f"{first / 1e6:g}M rows: psql COPY TO | COPY FROM (median of {len(limits)})",
                    f"{limit:.2f} s",
                ),
                Row(
                    "pg→pg",
                    f"job run (median of {len(runs)})",
                    f"{ours['seconds']:.2f} s",
                    f"{first / ours['seconds']:,.0f} rows/s",
                ),
                Row(
                    "pg→pg",
                    "ratio to the psql pipe",
                    f"{ratio:.2f}×",
                    "≤ 1.0×",
                    verdict(ratio, at_most=1.0),
                ),
                Row(
                    "pg→pg",
                    "peak executor RSS",
                    f"{ours['peak_rss_mb']:.0f} MB",
                    "≤ 300 MB",
                    verdict(ours["peak_rss_mb"], at_most=300),
                ),
            ]

            limit = pyarrow_alone(files[first], work / "alone.parquet")
            ours = measure(
                server,
                proc,
                "csv_to_parquet",
                {"type": "csv", "path": files[first].name},
                {"type": "parquet", "path": "out/rows.parquet"},
            )
            ratio = ours["seconds"] / limit
            figures["csv_to_parquet"] = {**ours, "limit_seconds": limit, "ratio": ratio}
            rows += [
                Row("csv→parquet", f"{first / 1e6:g}M rows: pyarrow alone", f"{limit:.2f} s"),
                Row(
                    "csv→parquet",
                    "job run",
                    f"{ours['seconds']:.2f} s",
                    f"{first / ours['seconds']:,.0f} rows/s",
                ),
                Row(
                    "csv→parquet",
                    "ratio to pyarrow alone",
                    f"{ratio:.2f}×",
                    "≤ 1.2×",
                    verdict(ratio, at_most=1.2),
                ),
                Row("csv→parquet", "peak executor RSS", f"{ours['peak_rss_mb']:.0f} MB"),
            ]
            server.http.close()

    print_table("orc-rust-ator data plane (job runs vs the limit, same machine, same run)", rows)
    print(json_line({"benchmark": "data_plane", **figures}))


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


if __name__ == "__main__":
    main()
