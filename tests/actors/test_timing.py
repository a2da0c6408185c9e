"""Save throttling, sleep decisions, schedule ordering and reconnect backoff, with injected time."""

from __future__ import annotations

import random

import pytest

from actr_py.actors.timing import DueQueue, IdleTable, RetryPolicy, SaveThrottle


class Item:
    __slots__ = ("_busy", "_idle_since", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._busy = 0
        self._idle_since = 0.0


def test_save_throttle_opens_one_window_per_interval_without_debounce() -> None:
    t = SaveThrottle(1.0)
    assert t.mark(10.0) == 11.0
    assert t.mark(10.5) is None  # rides the same flush
    assert not t.due(10.9)
    assert t.due(11.0)
    t.flushed()
    # A constant stream of changes is still saved every interval.
    assert t.mark(11.2) == 12.2


def test_idle_table_expires_the_oldest_idle_prefix_and_skips_busy() -> None:
    table: IdleTable[Item] = IdleTable(timeout=10.0)
    a, b, c = Item("a"), Item("b"), Item("c")
    table.add("a", a, 0.0)
    table.add("b", b, 1.0)
    table.add("c", c, 2.0)
    b._busy = 1
    assert [k for k, _ in table.expired(10.5)] == ["a"]
    assert table.next_deadline() == 10.0
    assert [k for k, _ in table.expired(12.5)] == ["a", "c"]  # busy b is skipped
    b._busy = 0
    table.became_idle("b", b, 12.0)  # b idles later: it moves behind c
    assert list(table.items) == ["a", "c", "b"]
    assert [k for k, _ in table.expired(21.0)] == ["a", "c"]
    assert [k for k, _ in table.expired(22.0)] == ["a", "c", "b"]
    assert [k for k, _ in table.expired(22.0, limit=2)] == ["a", "c"]


def test_idle_table_activity_postpones_sleep() -> None:
    table: IdleTable[Item] = IdleTable(timeout=5.0)
    a = Item("a")
    table.add("a", a, 0.0)
    for now in (4.0, 8.0, 12.0):  # an action every 4 s
        assert table.expired(now) == []
        a._busy = 1
        a._busy = 0
        table.became_idle("a", a, now)
    assert [k for k, _ in table.expired(17.0)] == ["a"]


def test_idle_table_never_sleeps_without_timeout() -> None:
    table: IdleTable[Item] = IdleTable(timeout=None)
    table.add("a", Item("a"), 0.0)
    assert table.expired(1e9) == []
    assert table.next_deadline() is None


def test_due_queue_orders_by_time_then_creation_and_cancels() -> None:
    q: DueQueue[str] = DueQueue()
    q.push(5.0, 3, "c")
    q.push(1.0, 2, "b")
    q.push(1.0, 1, "a")
    q.push(9.0, 4, "d")
    assert q.next_due() == 1.0
    assert q.cancel(2)
    assert not q.cancel(2)
    assert [e[2] for e in q.pop_due(5.0)] == ["a", "c"]
    assert q.next_due() == 9.0
    assert q.pop_due(8.9) == []
    assert len(q) == 1 and 4 in q


def test_retry_policy_retries_5xx_and_network_only() -> None:
    assert RetryPolicy.retryable(None)
    assert RetryPolicy.retryable(500) and RetryPolicy.retryable(503)
    for status in (400, 401, 403, 404, 409, 429):
        assert not RetryPolicy.retryable(status)


def test_retry_policy_backs_off_exponentially_with_jitter_and_a_cap() -> None:
    p = RetryPolicy(base=1.0, max_delay=8.0, max_attempts=6, rng=random.Random(7))
    delays = [p.next_delay() for _ in range(6)]
    bounds = [1, 2, 4, 8, 8, 8]
    for d, cap in zip(delays, bounds, strict=True):
        assert d is not None and cap / 2 <= d <= cap
    assert p.next_delay() is None
    p.reset()
    assert p.next_delay() is not None


def test_save_throttle_rejects_negative_interval() -> None:
    with pytest.raises(ValueError):
        SaveThrottle(-1)
