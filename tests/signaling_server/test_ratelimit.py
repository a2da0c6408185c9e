"""Token buckets with an injected clock."""

from __future__ import annotations

import pytest

from signaling_server.ratelimit import KeyedRateLimiter, TokenBucket


def test_bucket_starts_full_then_refills_at_rate():
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert [bucket.try_take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert not bucket.try_take(0.05)  # half a token
    assert bucket.try_take(0.1)
    assert not bucket.try_take(0.1)
    assert [bucket.try_take(100.0) for _ in range(6)] == [True] * 5 + [False]  # capped at burst


def test_bucket_ignores_a_clock_going_backwards():
    bucket = TokenBucket(rate=1, burst=1, now=10.0)
    assert bucket.try_take(10.0)
    assert not bucket.try_take(5.0)
    assert not bucket.try_take(10.5)
    assert bucket.try_take(11.0)


def test_bucket_rejects_nonsense():
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1, now=0)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0, now=0)


def test_keyed_limiter_separates_keys():
    limiter = KeyedRateLimiter(rate=1, burst=2)
    assert limiter.allow("a", 0) and limiter.allow("a", 0)
    assert not limiter.allow("a", 0)
    assert limiter.allow("b", 0)
    assert limiter.allow("a", 1.0)


def test_keyed_limiter_stays_bounded_and_forgets_refilled_keys_first():
    limiter = KeyedRateLimiter(rate=1, burst=1, max_keys=3)
    assert limiter.allow("drained", 0.0)
    for key in ("x", "y"):
        limiter.allow(key, 0.0)
    # At t=0.5 nobody has refilled: the oldest goes, the limiter stays at 3.
    limiter.allow("z", 0.5)
    assert len(limiter) == 3
    # "drained" was the oldest and was dropped: it starts full again.
    assert limiter.allow("drained", 0.5)
    assert len(limiter) == 3
    # At t=10 all have refilled, so all are forgotten before adding a new key.
    limiter.allow("new", 10.0)
    assert len(limiter) == 1


def test_refund_gives_back_at_most_up_to_the_burst() -> None:
    bucket = TokenBucket(rate=1.0, burst=2, now=0.0)
    assert bucket.try_take(0.0) and bucket.try_take(0.0) and not bucket.try_take(0.0)
    bucket.refund()
    assert bucket.try_take(0.0)
    bucket.refund(10)
    assert bucket.try_take(0.0) and bucket.try_take(0.0) and not bucket.try_take(0.0)
