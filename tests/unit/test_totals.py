"""X-Total-Count without a count per request: when a count runs, and what it may return."""

from __future__ import annotations

import asyncio

from orcrustator.api.totals import TotalCounts


class Counter:
    """A count callable that says how often it ran, over a value the test changes."""

    def __init__(self, value: int) -> None:
        self.value = value
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        return self.value


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def total(totals: TotalCounts, counter: Counter, *, offset: int, page: int, key: str = "k") -> int:
    return asyncio.run(totals.total(key, offset=offset, limit=50, page_size=page, count=counter))


def test_a_partial_page_gives_the_total_without_counting() -> None:
    counter = Counter(999)
    totals = TotalCounts()
    assert total(totals, counter, offset=0, page=7) == 7
    assert total(totals, counter, offset=100, page=3) == 103
    assert total(totals, counter, offset=0, page=0) == 0
    assert counter.calls == 0


def test_small_totals_are_counted_every_time() -> None:
    counter = Counter(120)
    totals = TotalCounts(exact_below=10_000)
    assert total(totals, counter, offset=0, page=50) == 120
    counter.value = 121
    assert total(totals, counter, offset=0, page=50) == 121
    # An empty page past the end needs the count too.
    assert total(totals, counter, offset=500, page=0) == 121
    assert counter.calls == 3


def test_large_totals_are_remembered_per_key_for_the_ttl() -> None:
    clock = Clock()
    counter = Counter(200_000)
    totals = TotalCounts(exact_below=10_000, ttl_seconds=5, clock=clock)
    assert total(totals, counter, offset=0, page=50) == 200_000
    counter.value = 200_010
    clock.now += 4.9
    assert total(totals, counter, offset=50, page=50) == 200_000
    assert total(totals, counter, offset=0, page=50, key="other") == 200_010
    clock.now += 0.2
    assert total(totals, counter, offset=0, page=50) == 200_010
    assert counter.calls == 3


def test_a_remembered_total_never_contradicts_the_page() -> None:
    counter = Counter(20_000)
    totals = TotalCounts(exact_below=10_000, ttl_seconds=60, clock=Clock())
    assert total(totals, counter, offset=0, page=50) == 20_000
    # Rows arrived since: a full page at 19,990 means at least 20,040 rows.
    assert total(totals, counter, offset=19_990, page=50) == 20_040


def test_the_cache_is_bounded() -> None:
    counter = Counter(50_000)
    totals = TotalCounts(exact_below=10, max_keys=3, clock=Clock())
    for key in "abcde":
        total(totals, counter, offset=0, page=50, key=key)
    assert counter.calls == 5
    total(totals, counter, offset=0, page=50, key="e")
    total(totals, counter, offset=0, page=50, key="a")  # evicted: counted again
    assert counter.calls == 6
