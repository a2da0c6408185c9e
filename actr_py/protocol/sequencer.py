"""Per-stream ordering of DataStream chunks.

STREAM_RELIABLE keeps order: chunks are released strictly by sequence,
early arrivals wait in a bounded gap buffer, duplicates are dropped.
STREAM_LATENCY_FIRST never waits: a chunk older than the newest one
delivered is stale and dropped. Upstream dispatched each chunk in its own
task and so lost order; here one sequencer per (sender, stream) decides.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from ..errors import ProtocolError

__all__ = ["StreamSequencer"]

T = TypeVar("T")


class StreamSequencer(Generic[T]):
    def __init__(self, *, ordered: bool, max_gap: int = 1024) -> None:
        self.ordered = ordered
        self.max_gap = max_gap
        self._next: int | None = None  # next sequence to release
        self._early: dict[int, T] = {}
        self.duplicates = 0
        self.stale = 0

    @property
    def waiting(self) -> int:
        return len(self._early)

    def offer(self, sequence: int, item: T) -> list[T]:
        """Accept one chunk; return the chunks that may be delivered now, in order."""
        expected = self._next
        if expected is None or (not self.ordered and sequence >= expected):
            self._next = sequence + 1
            if self.ordered and self._early:
                return [item, *self._release()]
            return [item]
        if not self.ordered:
            self.stale += 1
            return []
        if sequence == expected:
            self._next = sequence + 1
            if self._early:
                return [item, *self._release()]
            return [item]
        if sequence < expected or sequence in self._early:
            self.duplicates += 1
            return []
        if sequence - expected > self.max_gap or len(self._early) >= self.max_gap:
            raise ProtocolError(
                f"stream gap too large: waiting for {expected}, got {sequence} "
                f"(limit {self.max_gap})"
            )
        self._early[sequence] = item
        return []

    def _release(self) -> list[T]:
        out = []
        nxt = self._next
        early = self._early
        while nxt in early:
            out.append(early.pop(nxt))
            nxt += 1
        self._next = nxt
        return out
