"""The plugin registry (entry points, validation, JSON Schema) and the built-ins generate / null."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pytest

from orcrustator.errors import InvalidInput, Terminal, Transient
from orcrustator.plugins import registry
from orcrustator.plugins.base import (
    Extractor,
    Loader,
    PluginError,
    RunContext,
    TaskCancelled,
    TransientPluginError,
)
from orcrustator.plugins.builtin import generate, null


class Recorder:
    """A RunContext whose callbacks record what the plugin reported."""

    def __init__(self, data_dir: Path, *, cancel_after_progress: int | None = None) -> None:
        self.logs: list[tuple[str, str]] = []
        self.progress: list[tuple[int, int, int]] = []
        self.cancel_after_progress = cancel_after_progress
        self.ctx = RunContext(
            run_id="run-1",
            job_id="job-1",
            task_id=None,
            task_order=1,
            data_dir=data_dir,
            log=lambda level, message: self.logs.append((level, message)),
            progress=lambda e, lo, b: self.progress.append((e, lo, b)),
            cancelled=self._cancelled,
        )

    def _cancelled(self) -> bool:
        limit = self.cancel_after_progress
        return limit is not None and len(self.progress) >= limit


def build_extractor(options: dict[str, object], ctx: RunContext) -> Extractor:
    config = registry.validate_config("extractor", {"type": "generate", **options})
    extractor = registry.get_spec("extractor", "generate").factory(config, ctx)
    assert isinstance(extractor, Extractor)
    return extractor


def build_loader(ctx: RunContext) -> Loader:
    config = registry.validate_config("loader", {"type": "null"})
    loader = registry.get_spec("loader", "null").factory(config, ctx)
    assert isinstance(loader, Loader)
    return loader


def generated(options: dict[str, object], tmp_path: Path) -> list[pa.RecordBatch]:
    return list(build_extractor(options, Recorder(tmp_path).ctx).batches())


def drain(batches: Iterator[pa.RecordBatch], sizes: list[int]) -> None:
    """Consume the stream, noting each batch's size (what arrived before an exception)."""
    for batch in batches:
        sizes.append(batch.num_rows)


# --- registry ----------------------------------------------------------------------------
def test_builtins_are_registered_through_entry_points() -> None:
    extractor_eps = {ep.name: ep.value for ep in entry_points(group="orcrustator.extractors")}
    loader_eps = {ep.name: ep.value for ep in entry_points(group="orcrustator.loaders")}
    assert extractor_eps["generate"] == "orcrustator.plugins.builtin.generate:spec"
    assert loader_eps["null"] == "orcrustator.plugins.builtin.null:spec"
    assert registry.get_spec("extractor", "generate") is generate.spec
    assert registry.get_spec("loader", "null") is null.spec
    listed = {(spec.kind, spec.name) for spec in registry.list_specs()}
    assert {("extractor", "generate"), ("loader", "null")} <= listed


def test_unknown_type_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        registry.get_spec("extractor", "xyz")
    assert caught.value.field == "type"
    assert caught.value.message.startswith("unknown extractor type 'xyz'; known: ")
    assert "generate" in caught.value.message
    with pytest.raises(InvalidInput, match=r"unknown loader type 'generate'; known: .*null"):
        registry.validate_config("loader", {"type": "generate"})


def test_config_without_type_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="needs a 'type'") as caught:
        registry.validate_config("extractor", {"rows": 5})
    assert caught.value.field == "type"


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"rows": -1}, "rows", "rows: Input should be greater than or equal to 0"),
        ({"rows": 5, "batch_size": 0}, "batch_size", "batch_size: Input should be greater"),
        ({"rows": "many"}, "rows", "rows: Input should be a valid integer"),
        ({}, "rows", "rows: Field required"),
        ({"rows": 5, "colour": "red"}, "colour", "colour: Extra inputs are not permitted"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        registry.validate_config("extractor", {"type": "generate", **options})
    assert caught.value.field == field
    assert caught.value.message.startswith(message)


def test_valid_config_gets_defaults() -> None:
    config = registry.validate_config("extractor", {"type": "generate", "rows": 3})
    assert isinstance(config, generate.GenerateConfig)
    assert (config.rows, config.batch_size, config.seed, config.fail_after_rows) == (
        3,
        10_000,
        0,
        None,
    )


def test_json_schema_lists_the_options() -> None:
    schema = registry.json_schema(registry.get_spec("extractor", "generate"))
    assert schema["title"] == "generate"
    assert schema["description"] == generate.spec.description
    assert {"type", "rows", "batch_size", "seed", "sleep_seconds"} <= set(schema["properties"])
    assert schema["required"] == ["rows"]
    assert schema["properties"]["batch_size"]["maximum"] == 1_000_000
    assert schema["additionalProperties"] is False
    assert registry.json_schema(null.spec)["properties"]["type"]["const"] == "null"


def test_a_broken_entry_point_is_listed_and_does_not_hide_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = entry_points

    def with_broken(*, group: str) -> list[EntryPoint]:
        extra = [
            EntryPoint("broken", "orcrustator.no_such_module:spec", group),
            EntryPoint("notaspec", "orcrustator.errors:OrcError", group),
        ]
        return [*real(group=group), *extra]

    monkeypatch.setattr(registry, "entry_points", with_broken)
    registry.reload()
    try:
        broken = {(b.kind, b.name): b.error for b in registry.broken_plugins()}
        assert "ModuleNotFoundError" in broken[("extractor", "broken")]
        assert "not a PluginSpec" in broken[("loader", "notaspec")]
        assert registry.get_spec("extractor", "generate") is generate.spec
        loaders = registry.known_names("loader")
        assert "null" in loaders
        assert "broken" not in loaders
        assert "notaspec" not in loaders
    finally:
        monkeypatch.undo()
        registry.reload()
    assert registry.broken_plugins() == []


# --- generate ----------------------------------------------------------------------------
def test_generate_respects_rows_and_batch_size(tmp_path: Path) -> None:
    batches = generated({"rows": 2500, "batch_size": 1000}, tmp_path)
    assert [b.num_rows for b in batches] == [1000, 1000, 500]
    ids = [i for b in batches for i in b.column("id").to_pylist()]
    assert ids == list(range(2500))
    assert generated({"rows": 0}, tmp_path) == []


def test_generate_schema(tmp_path: Path) -> None:
    (batch,) = generated({"rows": 3}, tmp_path)
    assert batch.schema == pa.schema(
        [
            ("id", pa.int64()),
            ("value", pa.float64()),
            ("label", pa.string()),
            ("ts", pa.timestamp("us", tz="UTC")),
        ]
    )
    values = batch.column("value").to_pylist()
    assert all(0.0 <= v < 1.0 for v in values)
    assert batch.column("ts").to_pylist()[1].isoformat() == "2024-01-01T00:00:01+00:00"


def test_generate_is_deterministic_whatever_the_batch_size(tmp_path: Path) -> None:
    # Batches below 256 rows are built in Python, larger ones with Arrow compute: same data.
    whole = pa.Table.from_batches(generated({"rows": 600, "seed": 7}, tmp_path))
    again = pa.Table.from_batches(generated({"rows": 600, "seed": 7}, tmp_path))
    small = pa.Table.from_batches(generated({"rows": 600, "seed": 7, "batch_size": 7}, tmp_path))
    assert whole.equals(again)
    assert whole.equals(small)
    other_seed = pa.Table.from_batches(generated({"rows": 600, "seed": 8}, tmp_path))
    assert other_seed.column("id").equals(whole.column("id"))
    assert not other_seed.column("value").equals(whole.column("value"))
    assert len(set(whole.column("label").to_pylist())) > 1


def test_generate_reports_progress_and_logs(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    list(build_extractor({"rows": 25, "batch_size": 10}, recorder.ctx).batches())
    assert recorder.progress == [(10, 0, 0), (20, 0, 0), (25, 0, 0)]
    assert recorder.logs == [("INFO", "generating 25 rows in batches of 10")]


def test_generate_stops_when_cancelled(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, cancel_after_progress=2)
    produced: list[int] = []
    extractor = build_extractor({"rows": 100, "batch_size": 10}, recorder.ctx)
    with pytest.raises(TaskCancelled):
        drain(extractor.batches(), produced)
    assert produced == [10, 10]


def test_fail_after_rows_raises_a_terminal_error(tmp_path: Path) -> None:
    produced: list[int] = []
    extractor = build_extractor(
        {"rows": 100, "batch_size": 4, "fail_after_rows": 10}, Recorder(tmp_path).ctx
    )
    with pytest.raises(PluginError, match="failing after 10 rows") as caught:
        drain(extractor.batches(), produced)
    assert produced == [4, 4, 2]
    assert isinstance(caught.value, Terminal)


def test_fail_transient_raises_a_transient_error(tmp_path: Path) -> None:
    options: dict[str, object] = {"rows": 5, "fail_after_rows": 0, "fail_transient": True}
    with pytest.raises(TransientPluginError) as caught:
        generated(options, tmp_path)
    assert isinstance(caught.value, Transient)


# --- null --------------------------------------------------------------------------------
def test_null_counts_rows_and_bytes(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    batches = generated({"rows": 2500, "batch_size": 1000}, tmp_path)
    consumed: list[int] = []

    def stream() -> Iterator[pa.RecordBatch]:
        for batch in batches:
            consumed.append(batch.num_rows)
            yield batch

    result = build_loader(recorder.ctx).load(stream())
    assert result.rows_loaded == 2500
    assert result.bytes_loaded == sum(b.nbytes for b in batches) > 0
    assert consumed == [1000, 1000, 500]
    assert recorder.progress[-1] == (0, 2500, result.bytes_loaded)
