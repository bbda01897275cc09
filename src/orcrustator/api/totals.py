"""The `X-Total-Count` of list pages without counting a large table on every request.

A count is exact, but it visits every matching index entry: at 200,000 runs that is tens of
milliseconds of database CPU, on every page of every client. So:

- a page that is not full already tells the total (offset + its length): no count at all (the
  list routes read one row past the page, so a full page that ends the list tells it too); a
  page read after a cursor has no known offset, so it always takes the two rules below;
- a count below `exact_below` is always fresh (small totals are the ones people check by eye,
  and the ones tests compare);
- a larger count is remembered per filter for `ttl_seconds`. Such a total may lag the table by
  that long, which nobody paging through a hundred thousand runs can tell from rows arriving
  between two requests anyway.

Kept in process memory, per api process: no table, no trigger on the engine's hot path.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

EXACT_BELOW = 10_000
TTL_SECONDS = 5.0
MAX_KEYS = 1_024


class TotalCounts:
    def __init__(
        self,
        *,
        exact_below: int = EXACT_BELOW,
        ttl_seconds: float = TTL_SECONDS,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._exact_below = exact_below
        self._ttl = ttl_seconds
        self._max_keys = max_keys
        self._clock = clock
        self._cache: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()

    async def total(
        self,
        key: Hashable,
        *,
        offset: int | None,
        limit: int,
        page_size: int,
        count: Callable[[], Awaitable[int]],
    ) -> int:
        """The total for a page of `page_size` rows at `offset` (None: after a cursor);
        `count` runs only if needed."""
        if offset is not None and (0 < page_size < limit or (page_size == 0 and offset == 0)):
            return offset + page_size
        # Whatever a remembered total says, there are at least as many rows as this page shows.
        at_least = (offset or 0) + page_size
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return max(cached[1], at_least)
        value = await count()
        if value >= self._exact_below:
            self._cache[key] = (now, value)
            self._cache.move_to_end(key)
            while len(self._cache) > self._max_keys:
                self._cache.popitem(last=False)
        else:
            self._cache.pop(key, None)
        return value
