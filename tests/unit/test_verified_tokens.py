"""Recently checked bearer tokens: served for a short while, never past expiry or deletion."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from orcrustator.api.schemas.users import UserPublic
from orcrustator.api.verified_tokens import VerifiedTokens

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class Clocks:
    def __init__(self) -> None:
        self.monotonic = 100.0
        self.wall = NOW

    def advance(self, seconds: float) -> None:
        self.monotonic += seconds
        self.wall += timedelta(seconds=seconds)


def user(name: str = "alice") -> UserPublic:
    created = NOW - timedelta(days=1)
    return UserPublic(
        user_id=uuid.uuid4(), username=name, is_admin=False, created_at=created, updated_at=created
    )


def tokens(clocks: Clocks, *, ttl_seconds: float = 2.0, max_tokens: int = 100) -> VerifiedTokens:
    return VerifiedTokens(
        ttl_seconds=ttl_seconds,
        max_tokens=max_tokens,
        clock=lambda: clocks.monotonic,
        wall_clock=lambda: clocks.wall,
    )


def test_a_remembered_token_is_served_until_the_ttl_then_checked_again() -> None:
    clocks = Clocks()
    cache = tokens(clocks, ttl_seconds=2.0)
    alice = user()
    assert cache.user_for("t1") is None
    cache.remember("t1", alice, NOW + timedelta(hours=1))
    assert cache.user_for("t1") == alice
    clocks.advance(1.9)
    assert cache.user_for("t1") == alice
    clocks.advance(0.1)
    assert cache.user_for("t1") is None


def test_a_token_is_never_served_past_its_own_expiry() -> None:
    clocks = Clocks()
    cache = tokens(clocks, ttl_seconds=60.0)
    cache.remember("t1", user(), NOW + timedelta(seconds=1))
    assert cache.user_for("t1") is not None
    clocks.advance(1.0)
    assert cache.user_for("t1") is None


def test_forgetting_a_user_drops_all_their_tokens_and_only_theirs() -> None:
    clocks = Clocks()
    cache = tokens(clocks)
    alice, bob = user("alice"), user("bob")
    later = NOW + timedelta(hours=1)
    cache.remember("a1", alice, later)
    cache.remember("a2", alice, later)
    cache.remember("b1", bob, later)
    cache.forget_user(alice.user_id)
    assert cache.user_for("a1") is None
    assert cache.user_for("a2") is None
    assert cache.user_for("b1") == bob


def test_the_least_recently_remembered_token_goes_first_when_full() -> None:
    clocks = Clocks()
    cache = tokens(clocks, max_tokens=2)
    later = NOW + timedelta(hours=1)
    first, second, third = user("a"), user("b"), user("c")
    cache.remember("t1", first, later)
    cache.remember("t2", second, later)
    cache.remember("t3", third, later)
    assert cache.user_for("t1") is None
    assert cache.user_for("t2") == second
    assert cache.user_for("t3") == third
