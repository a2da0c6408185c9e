from __future__ import annotations

import random

import pytest

from actr_py.errors import ProtocolError
from actr_py.protocol.sequencer import StreamSequencer


def test_in_order_passes_through() -> None:
    s: StreamSequencer[int] = StreamSequencer(ordered=True)
    assert [x for i in range(5) for x in s.offer(i, i)] == [0, 1, 2, 3, 4]


def test_reliable_reorders_shuffled_input() -> None:
    rng = random.Random(7)
    seqs = list(range(1, 501))
    first, rest = seqs[0], seqs[1:]
    rng.shuffle(rest)
    s: StreamSequencer[int] = StreamSequencer(ordered=True)
    out = s.offer(first, first)
    for q in rest:
        out += s.offer(q, q)
    assert out == seqs and s.waiting == 0


def test_reliable_drops_duplicates() -> None:
    s: StreamSequencer[str] = StreamSequencer(ordered=True)
    assert s.offer(0, "a") == ["a"]
    assert s.offer(0, "a") == []
    assert s.offer(2, "c") == []
    assert s.offer(2, "c") == []
    assert s.offer(1, "b") == ["b", "c"]
    assert s.duplicates == 2


def test_reliable_gap_limit_is_a_protocol_error() -> None:
    s: StreamSequencer[int] = StreamSequencer(ordered=True, max_gap=4)
    s.offer(0, 0)
    with pytest.raises(ProtocolError, match="gap too large"):
        s.offer(10, 10)


def test_latency_first_never_waits_and_drops_stale() -> None:
    s: StreamSequencer[int] = StreamSequencer(ordered=False)
    assert s.offer(0, 0) == [0]
    assert s.offer(3, 3) == [3]
    assert s.offer(2, 2) == []
    assert s.offer(4, 4) == [4]
    assert s.stale == 1
