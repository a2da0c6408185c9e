"""PendingCalls with injected time: deadlines, peers, cancellation."""

from __future__ import annotations

import pytest

from actr_py.protocol.pending import PendingCalls


def test_pop_returns_token_once() -> None:
    p: PendingCalls[str] = PendingCalls()
    p.add("r1", "peerA", 10.0, "tok")
    assert "r1" in p and len(p) == 1
    assert p.pop("r1") == "tok"
    assert p.pop("r1") is None and len(p) == 0


def test_response_from_wrong_peer_is_ignored() -> None:
    p: PendingCalls[str] = PendingCalls()
    p.add("r1", "peerA", 10.0, "tok")
    assert p.pop("r1", "mallory") is None
    assert p.pop("r1", "peerA") == "tok"


def test_duplicate_id_rejected() -> None:
    p: PendingCalls[str] = PendingCalls()
    p.add("r1", "a", 1.0, "x")
    with pytest.raises(KeyError):
        p.add("r1", "a", 2.0, "y")


def test_expire_in_deadline_order_and_only_due() -> None:
    p: PendingCalls[str] = PendingCalls()
    p.add("late", "a", 30.0, "L")
    p.add("early", "a", 10.0, "E")
    p.add("mid", "b", 20.0, "M")
    assert p.next_deadline() == 10.0
    assert p.expire(9.99) == []
    assert p.expire(20.0) == [("early", "E"), ("mid", "M")]
    assert p.next_deadline() == 30.0 and len(p) == 1


def test_resolved_or_discarded_calls_never_expire() -> None:
    p: PendingCalls[str] = PendingCalls()
    p.add("r1", "a", 1.0, "x")
    p.add("r2", "a", 2.0, "y")
    p.pop("r1")
    p.discard("r2")
    assert p.expire(100.0) == []
    assert p.next_deadline() is None


def test_drop_peer_fails_only_that_peer() -> None:
    p: PendingCalls[str] = PendingCalls()
    p.add("r1", "a", 1.0, "x")
    p.add("r2", "b", 1.0, "y")
    p.add("r3", "a", 1.0, "z")
    assert sorted(p.drop_peer("a")) == [("r1", "x"), ("r3", "z")]
    assert len(p) == 1 and p.expire(5.0) == [("r2", "y")]


def test_drain_empties() -> None:
    p: PendingCalls[int] = PendingCalls()
    for i in range(5):
        p.add(f"r{i}", "a", float(i), i)
    assert len(p.drain()) == 5 and len(p) == 0 and p.next_deadline() is None


def test_answered_calls_leave_the_deadline_heap() -> None:
    """A busy caller's bookkeeping stays as small as its calls in flight."""
    p: PendingCalls[int] = PendingCalls()
    for i in range(10_000):  # one call at a time, each answered long before its deadline
        p.add(f"r{i}", "a", 30.0 + i * 1e-4, i)
        assert p.pop(f"r{i}", "a") == i
    assert len(p._deadlines) == 0
    # Answered calls behind a slow one wait for it, then leave together.
    p.add("slow", "a", 30.0, -1)
    for i in range(100):
        p.add(f"q{i}", "a", 31.0 + i, i)
        p.pop(f"q{i}", "a")
    assert len(p._deadlines) == 101
    p.pop("slow", "a")
    assert len(p._deadlines) == 0 and p.next_deadline() is None
