"""The mailbox bookkeeping without I/O: admission, order, attempts, water marks."""

from __future__ import annotations

import pytest

from actr_py.errors import StateError
from actr_py.mailbox.core import MailboxCore, Record, RecordState, Verdict
from actr_py.mailbox.dedup import DedupWindow
from actr_py.mailbox.types import PRIORITY_DEFAULT, PRIORITY_SIGNAL, priority_for
from actr_py.payload_type import PayloadType
from tests.support.clock import FakeClock


def make_core(
    clock: FakeClock,
    *,
    capacity: int = 100,
    max_attempts: int = 3,
    low_water: int | None = None,
    dedup_entries: int = 100,
    dedup_age: float = 60.0,
    memory_budget: int = 1 << 20,
) -> MailboxCore:
    return MailboxCore(
        capacity=capacity,
        max_attempts=max_attempts,
        low_water=capacity // 2 if low_water is None else low_water,
        dedup=DedupWindow(dedup_entries, dedup_age, clock),
        clock=clock,
        memory_budget=memory_budget,
    )


def put(core: MailboxCore, rid: str, prio: int = 0, sender: str = "peer") -> Record:
    """Admit, reserve and commit one message."""
    assert core.admit(sender, rid) is Verdict.ACCEPT
    rec = core.reserve(sender, rid, prio, 0, rid.encode())
    core.accepted(rec)
    return rec


def take(core: MailboxCore) -> Record:
    taken = core.take()
    assert taken is not None
    return taken[0]


def answer(core: MailboxCore, rec: Record) -> None:
    core.settle(rec.seq, rec.attempts)
    core.completed(rec, core.dedup.reserve_token())


def test_priority_for_lanes() -> None:
    assert priority_for(PayloadType.RPC_SIGNAL) == PRIORITY_SIGNAL
    assert priority_for(PayloadType.RPC_RELIABLE) == PRIORITY_DEFAULT
    assert PRIORITY_SIGNAL > PRIORITY_DEFAULT


def test_delivery_order_is_priority_then_arrival(clock: FakeClock) -> None:
    core = make_core(clock)
    for rid, prio in [("a", 0), ("b", 0), ("sig1", 10), ("c", 0), ("sig2", 10), ("mid", 5)]:
        put(core, rid, prio)
    assert [take(core).request_id for _ in range(6)] == ["sig1", "sig2", "mid", "a", "b", "c"]
    assert core.take() is None


def test_reserved_message_is_invisible_until_its_insert_commits(clock: FakeClock) -> None:
    core = make_core(clock)
    early = core.reserve("peer", "early", 0, 0, b"x")
    put(core, "late")
    assert take(core).request_id == "late"
    assert core.take() is None
    core.accepted(early)
    assert take(core).request_id == "early"


def test_refused_insert_gives_the_slot_and_key_back(clock: FakeClock) -> None:
    core = make_core(clock, capacity=1)
    rec = core.reserve("peer", "r", 0, 0, b"x")
    assert core.admit("peer", "other") is Verdict.FULL
    core.refused(rec)
    assert core.depth == 0
    assert core.admit("peer", "r") is Verdict.ACCEPT


def test_admission_verdicts(clock: FakeClock) -> None:
    core = make_core(clock, capacity=2, dedup_age=30.0)
    rec = put(core, "r1")
    assert core.admit("peer", "r1") is Verdict.PENDING  # queued
    take(core)
    assert core.admit("peer", "r1") is Verdict.PENDING  # in flight
    assert core.admit("other-peer", "r1") is Verdict.ACCEPT  # keyed by sender too
    put(core, "r2")
    assert core.admit("peer", "r3") is Verdict.FULL
    answer(core, rec)
    assert core.admit("peer", "r1") is Verdict.ANSWERED
    clock.advance(31)
    assert core.admit("peer", "r1") is Verdict.ACCEPT  # out of the dedup window


def test_attempts_count_deliveries_and_exhaust_at_max(clock: FakeClock) -> None:
    core = make_core(clock, max_attempts=3)
    put(core, "poison")
    verdicts = []
    for _ in range(3):
        rec = take(core)
        core.settle(rec.seq, rec.attempts)
        verdicts.append((rec.attempts, core.exhausted(rec)))
        if not core.exhausted(rec):
            core.requeued(rec)
    assert verdicts == [(1, False), (2, False), (3, True)]
    core.dead(rec)
    assert core.depth == 0 and not core.in_flight
    # A dead letter is not an answer: a retry of the request is a new message.
    assert core.admit("peer", "poison") is Verdict.ACCEPT


def test_failed_attempt_goes_back_to_its_original_position(clock: FakeClock) -> None:
    core = make_core(clock)
    for rid in ("a", "b", "c"):
        put(core, rid)
    a, b = take(core), take(core)
    core.settle(a.seq, a.attempts)
    core.requeued(a)
    assert [take(core).request_id for _ in range(2)] == ["a", "c"]
    assert b.state is RecordState.IN_FLIGHT


def test_untake_does_not_count_an_attempt(clock: FakeClock) -> None:
    core = make_core(clock)
    put(core, "a")
    rec = take(core)
    core.untake(rec)
    assert rec.state is RecordState.QUEUED and rec.attempts == 0
    assert take(core).attempts == 1


def test_settle_accepts_only_the_current_delivery_once(clock: FakeClock) -> None:
    core = make_core(clock)
    put(core, "a")
    rec = take(core)
    with pytest.raises(StateError):
        core.settle(rec.seq, rec.attempts + 1)  # a stale or forged handle
    core.settle(rec.seq, rec.attempts)
    with pytest.raises(StateError):
        core.settle(rec.seq, rec.attempts)  # complete and fail racing
    core.unsettle(rec)  # the first one's commit failed
    core.settle(rec.seq, rec.attempts)
    core.completed(rec, core.dedup.reserve_token())
    with pytest.raises(StateError):
        core.settle(rec.seq, rec.attempts)  # already gone


def test_water_marks_fire_once_per_crossing(clock: FakeClock) -> None:
    core = make_core(clock, capacity=4, low_water=1)
    recs = [put(core, f"r{i}") for i in range(4)]
    assert core.take_events() == [("full", 4)]
    assert core.admit("peer", "r9") is Verdict.FULL
    assert core.take_events() == []  # rejections do not repeat the signal
    for rec in recs[:2]:
        take(core)
        answer(core, rec)
    assert core.depth == 2 and core.take_events() == []  # above low water
    take(core)
    answer(core, recs[2])
    assert core.take_events() == [("drained", 1)]
    for i in range(3):
        put(core, f"s{i}")
    assert core.take_events() == [("full", 4)]


def test_restore_counts_towards_capacity_and_sequence(clock: FakeClock) -> None:
    core = make_core(clock, capacity=2)
    for seq in (7, 3):
        core.restore(Record(seq, 0, "peer", 0, f"r{seq}", None, 1, 0.0, RecordState.QUEUED))
    assert core.take_events() == [("full", 2)]
    assert core.reserve("peer", "new", 0, 0, None).seq == 8
    taken = core.take()
    assert taken is not None and taken[0].seq == 3 and taken[1] is None
    assert taken[0].attempts == 2


def test_abandoned_too_often(clock: FakeClock) -> None:
    core = make_core(clock, max_attempts=2)
    assert not core.abandoned_too_often(1)
    assert core.abandoned_too_often(2)


def test_memory_budget_keeps_envelopes_only_while_it_fits(clock: FakeClock) -> None:
    core = make_core(clock, memory_budget=10)
    first = core.reserve("peer", "a", 0, 0, b"123456")
    second = core.reserve("peer", "b", 0, 0, b"abcdef")
    core.accepted(first)
    core.accepted(second)
    assert core.cached_bytes == 6
    assert core.take() == (first, b"123456")
    assert core.take() == (second, None)  # the adapter reads it from SQLite
    assert core.cached_bytes == 0
    third = core.reserve("peer", "c", 0, 0, b"xyz")
    core.refused(third)
    assert core.cached_bytes == 0


def test_rejects_bad_configuration(clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        make_core(clock, capacity=0)
    with pytest.raises(ValueError):
        make_core(clock, max_attempts=0)
    with pytest.raises(ValueError):
        make_core(clock, capacity=4, low_water=4)
