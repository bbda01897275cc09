"""Bearer tokens this api process has recently checked, with the user each one belongs to.

Every API request proves its token: the signature and claims (cheap), then that the user still
exists (a database round trip, with its pool checkout, on every request: under load a third
of an authenticated request's cost). A client sends the same token many times a second, so the
answer is remembered for `ttl_seconds`:

- a remembered token still expires on time: its `exp` is checked on every use;
- a user deleted through this process is forgotten at once (`forget_user`); deleted through
  another process (another api replica, `orc users delete`), their tokens keep working here
  for at most `ttl_seconds` longer;
- a changed or tampered token is a different string, so it is never served from here.

Kept in process memory: tokens are not stored anywhere else, and nothing here outlives the
process.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from orcrustator.api.schemas.users import UserPublic

TTL_SECONDS = 2.0
MAX_TOKENS = 4_096


@dataclass(frozen=True)
class _Entry:
    user: UserPublic
    expires_at: datetime  # the token's own expiry
    checked_at: float  # monotonic time of the database check


class VerifiedTokens:
    def __init__(
        self,
        *,
        ttl_seconds: float = TTL_SECONDS,
        max_tokens: int = MAX_TOKENS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_tokens
        self._clock = clock
        self._wall_clock = wall_clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def user_for(self, token: str) -> UserPublic | None:
        """The user of a token checked less than `ttl_seconds` ago and not expired since."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        if self._clock() - entry.checked_at >= self._ttl or self._wall_clock() >= entry.expires_at:
            del self._entries[token]
            return None
        return entry.user

    def remember(self, token: str, user: UserPublic, expires_at: datetime) -> None:
        self._entries[token] = _Entry(user, expires_at, self._clock())
        self._entries.move_to_end(token)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def forget_user(self, user_id: uuid.UUID) -> None:
        for token in [t for t, e in self._entries.items() if e.user.user_id == user_id]:
            del self._entries[token]
