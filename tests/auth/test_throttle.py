"""mist.auth.throttle: a few free failures, then exponential waits, per account and per address."""

from __future__ import annotations

import pytest

from mist.auth.throttle import LoginThrottle
from mist.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refused(throttle: LoginThrottle, account: str = "a@x", address: str = "1.2.3.4") -> int | None:
    """The Retry-After of a refusal, or None when the attempt was admitted."""
    try:
        throttle.admit(account, address)
    except RateLimited as exc:
        return exc.retry_after
    return None


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_five_quick_failures_then_doubling_waits(clock: Clock) -> None:
    throttle = LoginThrottle(free_per_account=5, free_per_address=100, base_delay=1, clock=clock)
    for _ in range(5):
        assert refused(throttle) is None
    assert refused(throttle) == 1
    clock.now += 1
    assert refused(throttle) is None  # the 6th attempt, after its wait
    assert refused(throttle) == 2
    clock.now += 2
    assert refused(throttle) is None
    assert refused(throttle) == 4
    # Refused attempts are not counted: hammering does not lengthen the wait further.
    for _ in range(50):
        assert refused(throttle) == 4


def test_the_wait_is_capped_and_forgotten_after_a_while(clock: Clock) -> None:
    throttle = LoginThrottle(free_per_account=1, base_delay=1, max_delay=60, forget_after=3600, clock=clock)
    for _ in range(20):
        refused(throttle)
        clock.now += 60
    assert refused(throttle) is None
    assert refused(throttle) == 60
    clock.now += 3600
    assert refused(throttle) is None
    assert refused(throttle) == 1  # counting started again from zero


def test_success_resets_the_account_but_not_the_address(clock: Clock) -> None:
    throttle = LoginThrottle(free_per_account=3, free_per_address=4, clock=clock)
    for _ in range(3):
        assert refused(throttle, "a@x") is None
    throttle.succeeded("a@x", "1.2.3.4")
    assert refused(throttle, "a@x") is None  # account counter back to 1, address at 3
    assert refused(throttle, "b@x") is None  # address at 4
    assert refused(throttle, "c@x") == 1  # a fresh account, but the address is over its limit
    assert refused(throttle, "a@x", "5.6.7.8") is None  # the account itself is fine elsewhere


def test_each_account_has_its_own_count(clock: Clock) -> None:
    throttle = LoginThrottle(free_per_account=2, free_per_address=1000, clock=clock)
    for _ in range(2):
        refused(throttle, "victim@x")
    assert refused(throttle, "victim@x") == 1
    assert refused(throttle, "other@x") is None


def test_the_table_is_bounded_oldest_first(clock: Clock) -> None:
    throttle = LoginThrottle(free_per_account=1, free_per_address=10**6, max_entries=50, clock=clock)
    refused(throttle, "first@x")
    for n in range(200):
        clock.now += 0.001
        refused(throttle, f"spray{n}@x")
    assert len(throttle) <= 50
    assert refused(throttle, "first@x") is None  # evicted, so it starts afresh
