"""The dedup window with an injected clock: bounds by count and by age."""

from __future__ import annotations

from collections import OrderedDict

import pytest

from actr_py.mailbox.dedup import DedupWindow
from tests.support.clock import FakeClock


def window(clock: FakeClock, entries: int = 100, age: float = 60.0) -> DedupWindow:
    return DedupWindow(entries, age, clock)


def remember(w: DedupWindow, key: tuple[str, str]) -> int:
    token = w.reserve_token()
    w.remember(key, token)
    return token


def test_remembers_by_sender_and_request_id(clock: FakeClock) -> None:
    w = window(clock)
    token = remember(w, ("alice", "r1"))
    assert w.lookup(("alice", "r1")) == token
    assert w.lookup(("bob", "r1")) is None  # another sender's id is not ours to answer
    assert w.lookup(("alice", "r2")) is None


def test_count_bound_evicts_the_oldest(clock: FakeClock) -> None:
    w = window(clock, entries=3)
    tokens = [remember(w, ("a", f"r{i}")) for i in range(4)]
    assert len(w) == 3
    assert w.lookup(("a", "r0")) is None
    assert [w.lookup(("a", f"r{i}")) for i in (1, 2, 3)] == tokens[1:]
    assert w.evicted_upto == tokens[0]


def test_age_bound_is_inclusive_then_evicts(clock: FakeClock) -> None:
    w = window(clock, age=10.0)
    t1 = remember(w, ("a", "old"))
    clock.advance(5)
    t2 = remember(w, ("a", "new"))
    clock.advance(5)
    assert w.lookup(("a", "old")) == t1  # exactly max_age old: still inside
    clock.advance(0.001)
    assert w.lookup(("a", "old")) is None
    assert w.evicted_upto == t1 and len(w) == 1
    clock.advance(5)
    assert w.lookup(("a", "new")) is None
    assert w.evicted_upto == t2 and len(w) == 0


def test_answering_again_supersedes_the_older_row(clock: FakeClock) -> None:
    w = window(clock, entries=2)
    remember(w, ("a", "x"))  # token 1
    tb = remember(w, ("a", "y"))  # token 2
    tx = remember(w, ("a", "x"))  # token 3: x moves to the young end
    remember(w, ("a", "z"))  # token 4 evicts y, the oldest live key
    assert w.lookup(("a", "y")) is None
    assert w.lookup(("a", "x")) == tx
    # Rows up to token 2 may go: token 1 was x's superseded answer, 2 was y.
    assert w.evicted_upto == tb


def test_key_behind_a_newer_one_still_expires_when_the_clock_stepped_back(
    clock: FakeClock,
) -> None:
    w = window(clock, age=10.0)
    remember(w, ("a", "first"))
    clock.advance(-100)  # wall clock stepped back
    remember(w, ("a", "second"))
    clock.advance(105)
    # "first" is 5 s old and blocks front-eviction; "second" is 105 s old.
    assert w.lookup(("a", "second")) is None
    assert w.lookup(("a", "first")) is not None


def test_tokens_must_increase(clock: FakeClock) -> None:
    w = window(clock)
    w.remember(("a", "1"), 5)
    with pytest.raises(ValueError):
        w.remember(("a", "2"), 5)
    with pytest.raises(ValueError):
        w.remember(("a", "2"), 4)


def test_load_applies_bounds_and_continues_token_numbering(clock: FakeClock) -> None:
    w = window(clock, entries=2, age=10.0)
    now = clock()
    w.load([(("a", "r1"), now - 20, 3), (("a", "r2"), now - 1, 7), (("a", "r3"), now, 9)])
    assert w.lookup(("a", "r1")) is None
    assert w.lookup(("a", "r2")) == 7 and w.lookup(("a", "r3")) == 9
    assert w.evicted_upto == 3
    assert w.reserve_token() == 10


def test_zero_entries_remembers_nothing(clock: FakeClock) -> None:
    w = window(clock, entries=0)
    t = remember(w, ("a", "r"))
    assert w.lookup(("a", "r")) is None and w.evicted_upto == t


def test_rejects_negative_bounds(clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        DedupWindow(-1, 1.0, clock)
    with pytest.raises(ValueError):
        DedupWindow(1, -1.0, clock)


def test_expiry_follows_the_oldest_key_as_it_changes(clock: FakeClock) -> None:
    w = window(clock, entries=3, age=10.0)
    remember(w, ("a", "r1"))
    clock.advance(5)
    remember(w, ("a", "r2"))
    clock.advance(5)
    remember(w, ("a", "r1"))  # answered again: r2 is now the oldest
    clock.advance(6)  # r2 is 11 s old, r1 6
    assert w.lookup(("a", "r2")) is None and w.lookup(("a", "r1")) is not None
    assert len(w) == 1
    for i in range(3, 7):  # the count bound evicts r1 first
        remember(w, ("a", f"r{i}"))
    assert w.lookup(("a", "r1")) is None and len(w) == 3
    clock.advance(10.5)
    assert w.lookup(("a", "r6")) is None and len(w) == 0


def test_lookups_with_nothing_to_expire_do_not_scan(clock: FakeClock) -> None:
    class Counting(OrderedDict):  # type: ignore[type-arg]
        scans = 0

        def items(self):  # type: ignore[no-untyped-def]
            Counting.scans += 1
            return super().items()

    w = window(clock, entries=1000, age=60.0)
    w._keys = Counting()
    for i in range(100):
        remember(w, ("a", f"r{i}"))
    for i in range(100):
        assert w.lookup(("a", f"r{i}")) is not None
    assert Counting.scans == 0
