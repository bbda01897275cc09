"""Failed-login throttling per username and per client address.

Kept in process memory: it needs no table and no clean-up job, and each api process enforces
its own limit. With N api processes an attacker gets at most N times the limit, which still
turns an online guessing attack from thousands of tries a second into a handful a minute.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from orcrustator.errors import TooManyAttempts

# One client address may front many users (a NAT, an office), so it gets a larger allowance.
ADDRESS_FACTOR = 4
MAX_TRACKED_KEYS = 100_000


class LoginThrottle:
    def __init__(
        self,
        max_failures: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_failures = max_failures
        self._window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.get(key)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self._window:
            stamps.popleft()
        if not stamps:
            del self._failures[key]
        return stamps

    def _limits(self, username: str, address: str) -> list[tuple[str, int]]:
        return [
            (f"user:{username.casefold()}", self._max_failures),
            (f"addr:{address}", self._max_failures * ADDRESS_FACTOR),
        ]

    def check(self, username: str, address: str) -> None:
        """Raise TooManyAttempts while either the username or the address is locked out."""
        now = self._clock()
        with self._lock:
            for key, limit in self._limits(username, address):
                stamps = self._recent(key, now)
                if len(stamps) >= limit:
                    retry_after = max(1, math.ceil(stamps[0] + self._window - now))
                    raise TooManyAttempts(
                        "too many failed logins; try again later", retry_after=retry_after
                    )

    def record_failure(self, username: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) >= MAX_TRACKED_KEYS:
                # Bounded memory under a spray of random usernames: forget the oldest key.
                self._failures.pop(next(iter(self._failures)))
            for key, _ in self._limits(username, address):
                self._failures.setdefault(key, deque()).append(now)

    def record_success(self, username: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{username.casefold()}", None)
