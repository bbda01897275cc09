"""Passwords, tokens and the login throttle, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from orcrustator.auth.passwords import check_password_policy, hash_password, verify_password
from orcrustator.auth.throttle import ADDRESS_FACTOR, LoginThrottle
from orcrustator.auth.tokens import ISSUER, issue_token, verify_token
from orcrustator.errors import AuthError, InvalidInput, TooManyAttempts

KEY = "k" * 48


def test_password_hash_is_argon2id_and_verifies() -> None:
    hashed = hash_password("a long enough password")
    assert hashed.startswith("$argon2id$")
    assert verify_password("a long enough password", hashed)
    assert not verify_password("a wrong password here", hashed)


def test_verify_without_hash_is_false() -> None:
    assert not verify_password("anything at all", None)


def test_verify_with_corrupt_hash_is_false() -> None:
    assert not verify_password("anything at all", "not-a-hash")


@pytest.mark.parametrize("password", ["", "short", "elevenchars"])
def test_short_passwords_are_refused(password: str) -> None:
    with pytest.raises(InvalidInput, match="at least 12 characters") as info:
        check_password_policy(password)
    assert info.value.field == "password"


def test_twelve_characters_are_enough() -> None:
    check_password_policy("twelve chars")


def test_token_round_trip() -> None:
    user_id = uuid.uuid4()
    claims = verify_token(KEY, issue_token(KEY, user_id, 60))
    assert claims.user_id == user_id
    assert claims.expires_at > datetime.now(UTC)


def test_expired_token_is_refused() -> None:
    old = datetime.now(UTC) - timedelta(hours=2)
    with pytest.raises(AuthError, match="expired"):
        verify_token(KEY, issue_token(KEY, uuid.uuid4(), 60, now=old))


def test_token_signed_with_another_key_is_refused() -> None:
    with pytest.raises(AuthError, match="invalid"):
        verify_token(KEY, issue_token("x" * 48, uuid.uuid4(), 60))


def test_unsigned_alg_none_token_is_refused() -> None:
    now = datetime.now(UTC)
    claims = {"sub": str(uuid.uuid4()), "iss": ISSUER, "iat": now, "exp": now + timedelta(hours=1)}
    forged = jwt.encode(claims, key=None, algorithm="none")
    with pytest.raises(AuthError):
        verify_token(KEY, forged)


def test_tampered_token_is_refused() -> None:
    token = issue_token(KEY, uuid.uuid4(), 60)
    header, payload, signature = token.split(".")
    other = issue_token(KEY, uuid.uuid4(), 60).split(".")[1]
    with pytest.raises(AuthError):
        verify_token(KEY, f"{header}.{other}.{signature}")
    assert payload != other


def test_token_without_subject_uuid_is_refused() -> None:
    now = datetime.now(UTC)
    claims = {"sub": "admin", "iss": ISSUER, "iat": now, "exp": now + timedelta(hours=1)}
    with pytest.raises(AuthError):
        verify_token(KEY, jwt.encode(claims, KEY, algorithm="HS256"))


class FakeClock:
    """A clock the test moves by hand (time is an input here, not I/O)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_locks_a_username_after_max_failures_then_releases() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=3, window_seconds=60, clock=clock)
    for _ in range(3):
        throttle.check("alice", "10.0.0.1")
        throttle.record_failure("alice", "10.0.0.1")
    with pytest.raises(TooManyAttempts) as info:
        throttle.check("alice", "10.0.0.2")
    assert info.value.retry_after == 60
    clock.now += 30
    with pytest.raises(TooManyAttempts) as info:
        throttle.check("ALICE", "10.0.0.3")
    assert info.value.retry_after == 30
    clock.now += 31
    throttle.check("alice", "10.0.0.1")


def test_throttle_success_clears_the_username() -> None:
    throttle = LoginThrottle(max_failures=2, window_seconds=60, clock=FakeClock())
    throttle.record_failure("bob", "a")
    throttle.record_success("bob")
    throttle.record_failure("bob", "a")
    throttle.check("bob", "a")


def test_throttle_locks_an_address_spraying_usernames() -> None:
    throttle = LoginThrottle(max_failures=2, window_seconds=60, clock=FakeClock())
    for i in range(2 * ADDRESS_FACTOR):
        throttle.record_failure(f"user{i}", "192.0.2.9")
    with pytest.raises(TooManyAttempts):
        throttle.check("someone-new", "192.0.2.9")
    throttle.check("someone-new", "192.0.2.10")
