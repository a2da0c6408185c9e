"""Delivery order of the ready queue."""

from __future__ import annotations

import random

import pytest

from actr_py.mailbox.ordering import ReadyQueue


def test_higher_priority_first_then_arrival_order() -> None:
    q: ReadyQueue[str] = ReadyQueue()
    for seq, (prio, name) in enumerate(
        [(0, "a"), (10, "s1"), (0, "b"), (5, "m"), (10, "s2"), (0, "c")], start=1
    ):
        q.push(prio, seq, name)
    assert [q.pop() for _ in range(len(q))] == ["s1", "s2", "m", "a", "b", "c"]


def test_item_pushed_back_returns_to_its_original_position() -> None:
    q: ReadyQueue[int] = ReadyQueue()
    for seq in range(1, 6):
        q.push(0, seq, seq)
    first, second = q.pop(), q.pop()
    q.push(0, first, first)  # a failed attempt goes back where it was
    assert [q.pop() for _ in range(len(q))] == [first, 3, 4, 5]
    assert second == 2


def test_random_mix_matches_sort_by_priority_then_seq() -> None:
    rng = random.Random(7)
    q: ReadyQueue[tuple[int, int]] = ReadyQueue()
    items = [(rng.choice([0, 0, 0, 1, 10]), seq) for seq in range(1, 501)]
    for prio, seq in rng.sample(items, len(items)):
        q.push(prio, seq, (prio, seq))
    assert [q.pop() for _ in range(len(q))] == sorted(items, key=lambda x: (-x[0], x[1]))


def test_empty_queue() -> None:
    q: ReadyQueue[int] = ReadyQueue()
    assert not q and len(q) == 0 and q.peek() is None
    with pytest.raises(IndexError):
        q.pop()
    q.push(1, 1, 42)
    assert q.peek() == 42 and len(q) == 1


def test_pushes_back_interleaved_with_pops_keep_the_order() -> None:
    rng = random.Random(3)
    q: ReadyQueue[int] = ReadyQueue()
    held: list[tuple[int, int]] = []  # popped, may come back
    queued: set[tuple[int, int]] = set()
    seq = 0
    for _ in range(3000):
        roll = rng.random()
        if roll < 0.45:
            seq += 1
            prio = rng.choice([0, 0, 10])
            q.push(prio, seq, seq)
            queued.add((prio, seq))
        elif roll < 0.6 and held:
            prio, s = held.pop(rng.randrange(len(held)))
            q.push(prio, s, s)  # a failed attempt goes back where it was
            queued.add((prio, s))
        elif q:
            best = min(queued, key=lambda x: (-x[0], x[1]))
            assert q.peek() == best[1]
            assert q.pop() == best[1]
            queued.remove(best)
            held.append(best)
    assert len(q) == len(queued)


class CountingSeq(int):
    comparisons = 0

    def __lt__(self, other: object) -> bool:
        CountingSeq.comparisons += 1
        return int(self) < int(other)  # type: ignore[call-overload]

    def __gt__(self, other: object) -> bool:
        CountingSeq.comparisons += 1
        return int(self) > int(other)  # type: ignore[call-overload]


def test_arrivals_are_queued_and_taken_without_searching() -> None:
    q: ReadyQueue[int] = ReadyQueue()
    n = 5000
    CountingSeq.comparisons = 0
    for seq in range(1, n + 1):
        q.push(0, CountingSeq(seq), seq)
    while q:
        q.pop()
    # A heap over the backlog compares ~log2(n) = 12 times per pop.
    assert CountingSeq.comparisons <= 2 * n
