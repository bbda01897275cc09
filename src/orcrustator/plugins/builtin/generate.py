"""Extractor `generate`: deterministic synthetic rows, for tests and benchmarks.

Row `i` depends only on `i` and `seed` (a SplitMix64 hash), never on the batch size, so the
same config always yields the same data. Small batches are built in plain Python (cheaper than
a dozen Arrow kernel calls), large ones with vectorised Arrow compute; both give equal values.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Literal

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
from pydantic import Field

from orcrustator.plugins.base import (
    Extractor,
    PluginConfig,
    PluginError,
    PluginSpec,
    RunContext,
    TransientPluginError,
)

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_LABELS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
_EPOCH_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z; row i is i seconds later
_VECTOR_THRESHOLD = 256

TIMESTAMP = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [("id", pa.int64()), ("value", pa.float64()), ("label", pa.string()), ("ts", TIMESTAMP)]
)


class GenerateConfig(PluginConfig):
    type: Literal["generate"] = "generate"
    rows: int = Field(ge=0, description="How many rows to produce.")
    batch_size: int = Field(10_000, ge=1, le=1_000_000, description="Rows per record batch.")
    seed: int = Field(0, description="Changes the values and labels, not the ids.")
    sleep_seconds: float = Field(
        0.0, ge=0, description="Pause before each batch (to simulate a slow source)."
    )
    fail_after_rows: int | None = Field(
        None,
        ge=0,
        description="Raise an error once this many rows were produced (if rows >= this).",
    )
    fail_transient: bool = Field(
        False, description="With fail_after_rows: raise a transient (retryable) error."
    )


def _offset(seed: int) -> int:
    return (seed * _GOLDEN + _GOLDEN) & _MASK64


def _mix(i: int, offset: int) -> int:
    z = (i + offset) & _MASK64
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK64
    return z ^ (z >> 31)


def _small_batch(start: int, stop: int, seed: int) -> pa.RecordBatch:
    ids = range(start, stop)
    offset = _offset(seed)
    hashes = [_mix(i, offset) for i in ids]
    return pa.RecordBatch.from_arrays(
        [
            pa.array(ids, pa.int64()),
            pa.array([(h >> 11) / (1 << 53) for h in hashes], pa.float64()),
            pa.array([_LABELS[(h >> 7) & 7] for h in hashes], pa.string()),
            pa.array([_EPOCH_US + i * 1_000_000 for i in ids], TIMESTAMP),
        ],
        schema=SCHEMA,
    )


def _vector_batch(start: int, stop: int, seed: int) -> pa.RecordBatch:
    import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

    def u64(value: int) -> pa.Scalar:
        return pa.scalar(value, pa.uint64())

    ids = pa.array(range(start, stop), pa.int64())
    z = pc.add(pc.cast(ids, pa.uint64()), u64(_offset(seed)))
    z = pc.multiply(pc.bit_wise_xor(z, pc.shift_right(z, u64(30))), u64(_MIX1))
    z = pc.multiply(pc.bit_wise_xor(z, pc.shift_right(z, u64(27))), u64(_MIX2))
    z = pc.bit_wise_xor(z, pc.shift_right(z, u64(31)))
    value = pc.divide(pc.cast(pc.shift_right(z, u64(11)), pa.float64()), float(1 << 53))
    label = pc.take(
        pa.array(_LABELS, pa.string()), pc.bit_wise_and(pc.shift_right(z, u64(7)), u64(7))
    )
    ts = pc.cast(pc.add(pc.multiply(ids, 1_000_000), _EPOCH_US), TIMESTAMP)
    return pa.RecordBatch.from_arrays([ids, value, label, ts], schema=SCHEMA)


def make_batch(start: int, stop: int, seed: int = 0) -> pa.RecordBatch:
    """Rows `start` (inclusive) to `stop` (exclusive) of the synthetic stream."""
    if stop - start < _VECTOR_THRESHOLD:
        return _small_batch(start, stop, seed)
    return _vector_batch(start, stop, seed)


class GenerateExtractor(Extractor):
    def __init__(self, config: GenerateConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx

    def batches(self) -> Iterator[pa.RecordBatch]:
        cfg = self.config
        limit = cfg.rows if cfg.fail_after_rows is None else min(cfg.rows, cfg.fail_after_rows)
        produced = 0
        self.ctx.log("INFO", f"generating {cfg.rows} rows in batches of {cfg.batch_size}")
        while True:
            self.ctx.raise_if_cancelled()
            if produced >= limit:
                break
            if cfg.sleep_seconds:
                time.sleep(cfg.sleep_seconds)
                self.ctx.raise_if_cancelled()
            stop = min(produced + cfg.batch_size, limit)
            batch = make_batch(produced, stop, cfg.seed)
            produced = stop
            self.ctx.progress(produced, 0, 0)
            yield batch
        if cfg.fail_after_rows is not None and produced >= cfg.fail_after_rows:
            message = f"failing after {produced} rows, as configured (fail_after_rows)"
            if cfg.fail_transient:
                raise TransientPluginError(message)
            raise PluginError(message)


def _build(config: GenerateConfig, ctx: RunContext) -> GenerateExtractor:
    return GenerateExtractor(config, ctx)


spec: PluginSpec[GenerateConfig, GenerateExtractor] = PluginSpec(
    name="generate",
    kind="extractor",
    config_model=GenerateConfig,
    factory=_build,
    description="Deterministic synthetic rows (id, value, label, ts), for tests and benchmarks.",
)
