"""The contract every registered extractor and loader meets, through its adapter (conftest.py).

Round trips keep every value and type; empty inputs work; a failed or cancelled load leaves
the destination as it was; memory stays bounded whatever the input size. The last tests go
through the executor's `run_task`, the real task path (validation with the data directory,
`${env:…}` resolution).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pyarrow.csv as pacsv  # type: ignore[import-untyped,unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]
import pytest

from orcrustator.plugins import registry
from orcrustator.plugins.base import PluginError, TaskCancelled, TransientPluginError
from orcrustator.worker.executor_child import ChildResult, TaskSpec, _Reporter, run_task
from tests.contract.conftest import (
    EXTRACTORS,
    LOADERS,
    TYPED_SCHEMA,
    ContractEnv,
    Probe,
    assert_same_table,
    build,
    extract_all,
    failing_after,
    run_pipeline,
    runner_stream,
    typed_table,
)

EXTRACTOR_NAMES = sorted(EXTRACTORS)
LOADER_NAMES = sorted(LOADERS)


def test_every_registered_plugin_has_an_adapter() -> None:
    missing = [
        f"{kind} '{name}'"
        for kind, adapters in (("extractor", EXTRACTORS), ("loader", LOADERS))
        for name in registry.known_names(kind)  # type: ignore[arg-type]
        if name not in adapters
    ]
    assert not missing, (
        f"no contract adapter for {', '.join(missing)}: "
        "register one in tests/contract/adapters_<name>.py (see tests/contract/conftest.py)"
    )


def parquet_destination(env: ContractEnv) -> dict[str, Any]:
    return LOADERS["parquet"].config(env)


def read_parquet(config: dict[str, Any], env: ContractEnv) -> pa.Table:
    return pq.read_table(env.data_dir / config["path"])


def load_batches(config: dict[str, Any], batches: Iterator[pa.RecordBatch], probe: Probe) -> Any:
    return build("loader", config, probe.ctx).load(batches)


# --- 1. round trips ----------------------------------------------------------------------
@pytest.mark.parametrize("name", EXTRACTOR_NAMES)
def test_extractor_round_trip_through_parquet(name: str, env: ContractEnv) -> None:
    table = typed_table(repeat=300)
    source = EXTRACTORS[name].source(table, env, batch_rows=500)
    batches = extract_all(source.config, Probe(env.data_dir))
    assert len(batches) > 1
    assert all(b.schema.equals(batches[0].schema) for b in batches), "batch schemas differ"
    assert_same_table(pa.Table.from_batches(batches), source.expected)

    destination = parquet_destination(env)
    result = run_pipeline(source.config, destination, Probe(env.data_dir))
    assert result.rows_loaded == table.num_rows
    assert_same_table(read_parquet(destination, env), source.expected)


@pytest.mark.parametrize("name", LOADER_NAMES)
def test_loader_round_trip_from_parquet(name: str, env: ContractEnv) -> None:
    adapter = LOADERS[name]
    table = typed_table(repeat=300)
    source = EXTRACTORS["parquet"].source(table, env, batch_rows=500)
    config = adapter.config(env)
    probe = Probe(env.data_dir)
    result = run_pipeline(source.config, config, probe)
    assert result.rows_loaded == table.num_rows
    assert max(loaded for _, loaded, _ in probe.progress) == table.num_rows  # progress reported
    if adapter.keeps_data:
        back = adapter.read_back(config, env, table.schema)
        assert_same_table(back, table, ordered=adapter.keeps_order)


# --- 2. empty input ----------------------------------------------------------------------
@pytest.mark.parametrize("name", EXTRACTOR_NAMES)
def test_empty_source_extracts_no_rows(name: str, env: ContractEnv) -> None:
    source = EXTRACTORS[name].source(typed_table().slice(0, 0), env, batch_rows=100)
    batches = extract_all(source.config, Probe(env.data_dir))
    assert sum(b.num_rows for b in batches) == 0
    assert len(batches) <= 1

    destination = parquet_destination(env)
    result = run_pipeline(source.config, destination, Probe(env.data_dir))
    assert result.rows_loaded == 0
    assert read_parquet(destination, env).num_rows == 0


@pytest.mark.parametrize("name", LOADER_NAMES)
@pytest.mark.parametrize("empty", ["no batch", "one empty batch"])
def test_empty_input_loads_nothing(name: str, empty: str, env: ContractEnv) -> None:
    adapter = LOADERS[name]
    config = adapter.config(env)
    batches = [] if empty == "no batch" else [pa.RecordBatch.from_pylist([], schema=TYPED_SCHEMA)]
    result = load_batches(config, iter(batches), Probe(env.data_dir))
    assert result.rows_loaded == 0
    if adapter.keeps_data:
        assert adapter.read_back(config, env, TYPED_SCHEMA).num_rows == 0


# --- 3. a source failing midway ----------------------------------------------------------
def load_old_content(name: str, env: ContractEnv) -> dict[str, Any]:
    config = LOADERS[name].config(env)
    load_batches(config, iter(typed_table().to_batches()), Probe(env.data_dir))
    return config


ERRORS: dict[str, Callable[[], Exception]] = {
    "terminal": lambda: PluginError("source broke"),
    "transient": lambda: TransientPluginError("source broke"),
    "bug": lambda: RuntimeError("source broke"),
}


@pytest.mark.parametrize("name", LOADER_NAMES)
@pytest.mark.parametrize("existing", [False, True], ids=["fresh", "existing"])
@pytest.mark.parametrize("error", sorted(ERRORS))
def test_failure_midway_leaves_destination_unchanged(
    name: str, existing: bool, error: str, env: ContractEnv
) -> None:
    adapter = LOADERS[name]
    config = load_old_content(name, env) if existing else adapter.config(env)
    before = adapter.snapshot(config, env)
    batches = typed_table(repeat=50).to_batches(max_chunksize=50)
    expected_type = type(ERRORS[error]())
    with pytest.raises(expected_type, match="source broke") as caught:
        load_batches(config, failing_after(batches, 3, ERRORS[error]), Probe(env.data_dir))
    assert type(caught.value) is expected_type, "a source's error must pass through unchanged"
    assert adapter.snapshot(config, env) == before
    if existing and adapter.keeps_data:
        assert_same_table(
            adapter.read_back(config, env, TYPED_SCHEMA), typed_table(), ordered=adapter.keeps_order
        )


# --- 4. cancellation ---------------------------------------------------------------------
@pytest.mark.parametrize("name", LOADER_NAMES)
@pytest.mark.parametrize("when", ["midway", "after the last batch"])
def test_cancel_leaves_destination_unchanged(name: str, when: str, env: ContractEnv) -> None:
    adapter = LOADERS[name]
    config = load_old_content(name, env)
    before = adapter.snapshot(config, env)
    probe = Probe(env.data_dir)
    batches = typed_table(repeat=50).to_batches(max_chunksize=50)

    def source() -> Iterator[pa.RecordBatch]:
        for index, batch in enumerate(batches):
            if when == "midway" and index == 3:
                probe.cancel = True
            yield batch
        probe.cancel = True

    with pytest.raises(TaskCancelled):
        load_batches(config, runner_stream(source(), probe), probe)
    assert adapter.snapshot(config, env) == before


@pytest.mark.parametrize("name", EXTRACTOR_NAMES)
def test_extractor_stops_soon_after_cancel(name: str, env: ContractEnv) -> None:
    source = EXTRACTORS[name].source(typed_table(repeat=100), env, batch_rows=70)
    assert len(extract_all(source.config, Probe(env.data_dir))) >= 4
    probe = Probe(env.data_dir)
    batches = build("extractor", source.config, probe.ctx).batches()
    next(batches)
    probe.cancel = True
    after_cancel: list[pa.RecordBatch] = []
    with pytest.raises(TaskCancelled):
        after_cancel.extend(batches)
    assert len(after_cancel) <= 1


# --- 5. bounded memory -------------------------------------------------------------------
MEMORY_ROWS = 1_000_000  # of ~200 bytes: ~190 MiB of Arrow data, a ~190 MiB CSV
MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    import pyarrow as pa
    from orcrustator.plugins import registry
    from orcrustator.plugins.base import RunContext

    data_dir, fmt, rows = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ctx = RunContext("run", "job", None, 1, data_dir, lambda *a: None, lambda *a: None,
                     lambda: False)
    PAD = "x" * 180

    def source(n):  # a generated input, 50k rows at a time
        for start in range(0, n, 50_000):
            ids = pa.array(range(start, min(start + 50_000, n)), pa.int64())
            text = pa.array([PAD] * len(ids), pa.string())
            yield pa.RecordBatch.from_arrays(
                [ids, text, ids.cast(pa.float64())], names=["id", "payload", "value"])

    def plugin(kind, config):
        model = registry.validate_config(kind, config)
        return registry.get_spec(kind, model.type).factory(model, ctx)

    def round_trip(n, path):  # generated -> fmt loader; fmt extractor -> null loader
        wrote = plugin("loader", {"type": fmt, "path": path}).load(source(n))
        extractor = plugin("extractor", {"type": fmt, "path": path})
        read = plugin("loader", {"type": "null"}).load(extractor.batches())
        assert wrote.rows_loaded == read.rows_loaded == n, (wrote, read)
        return read.bytes_loaded / 2**20

    def rss_mib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    round_trip(1000, "warm")
    baseline = rss_mib()
    round_trip(rows // 10, "small")
    small = rss_mib() - baseline
    data_mib = round_trip(rows, "big")
    print(json.dumps({
        "arrow_data_mib": round(data_mib, 1),
        "rss_baseline_mib": round(baseline, 1),
        "rss_growth_tenth_mib": round(small, 1),
        "rss_growth_mib": round(rss_mib() - baseline, 1),
        "arrow_peak_mib": round(pa.default_memory_pool().max_memory() / 2**20, 1),
    }))
    """
)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_memory_stays_bounded(fmt: str, tmp_path: Path) -> None:
    """~190 MiB written and read back: the peak RSS grows far less than the data (subprocess).

    `ru_maxrss` is the process's high-water mark, so the script measures it after a tiny
    warm-up (baseline), after a tenth of the data, and after all of it; Arrow's own peak
    (`max_memory`) is the allocator-independent figure.
    """
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(tmp_path), fmt, str(MEMORY_ROWS)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(fmt, figures)
    assert figures["arrow_data_mib"] > 180
    assert figures["rss_growth_mib"] < 150, figures
    assert figures["rss_growth_mib"] - figures["rss_growth_tenth_mib"] < 80, figures
    assert figures["arrow_peak_mib"] < 80, figures


# --- through the executor's run_task -----------------------------------------------------
def run_spec(
    data_dir: Path, extractor: dict[str, Any], loader: dict[str, Any]
) -> tuple[ChildResult, list[tuple[Any, ...]]]:
    messages: list[tuple[Any, ...]] = []
    spec = TaskSpec(
        run_id="run-1",
        job_id="job-1",
        task_id=None,
        task_order=1,
        extractor_config=extractor,
        loader_config=loader,
        data_dir=str(data_dir),
    )
    return run_task(spec, _Reporter(messages.append), lambda: False), messages


def test_run_task_csv_to_parquet(env: ContractEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    table = typed_table(repeat=10)
    (env.data_dir / "in").mkdir()
    pacsv.write_csv(table, env.data_dir / "in" / "orders.csv")
    monkeypatch.setenv("CONTRACT_INPUT_PATH", "in/orders.csv")
    columns = {f.name: str(f.type) for f in TYPED_SCHEMA}
    result, messages = run_spec(
        env.data_dir,
        {"type": "csv", "path": "${env:CONTRACT_INPUT_PATH}", "columns": columns},
        {"type": "parquet", "path": "out/orders.parquet", "compression": "zstd"},
    )
    assert result.status == "success", result.error_message
    assert (result.rows_extracted, result.rows_loaded) == (table.num_rows, table.num_rows)
    assert result.bytes_loaded == (env.data_dir / "out" / "orders.parquet").stat().st_size
    assert_same_table(pq.read_table(env.data_dir / "out" / "orders.parquet"), table)
    assert ("log", "INFO", "reading ***") in messages  # a value from ${env:…} is masked


def test_run_task_refuses_a_path_outside_the_data_dir(env: ContractEnv) -> None:
    result, _ = run_spec(
        env.data_dir, {"type": "generate", "rows": 5}, {"type": "csv", "path": "../escape.csv"}
    )
    assert (result.status, result.error_message) == (
        "failed",
        "task 1 (generate → csv): invalid loader config for 'csv': "
        "path: path '../escape.csv' is outside the data directory (ORC_DATA_DIR)",
    )
    assert not (env.data_dir.parent / "escape.csv").exists()


def test_run_task_refuses_a_symlink_out_of_the_data_dir(env: ContractEnv) -> None:
    outside = env.data_dir.parent / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("a\n1\n")
    os.symlink(outside, env.data_dir / "link")
    result, _ = run_spec(env.data_dir, {"type": "csv", "path": "link/secret.csv"}, {"type": "null"})
    assert (result.status, result.error_message) == (
        "failed",
        "task 1 (csv → null): invalid extractor config for 'csv': "
        "path: path 'link/secret.csv' is outside the data directory (ORC_DATA_DIR)",
    )


def test_run_task_names_a_missing_file(env: ContractEnv) -> None:
    result, _ = run_spec(env.data_dir, {"type": "jsonl", "path": "in/none.jsonl"}, {"type": "null"})
    assert result.status == "failed"
    assert result.error_message is not None
    assert "file 'in/none.jsonl' not found in the data directory" in result.error_message
    assert not result.transient
