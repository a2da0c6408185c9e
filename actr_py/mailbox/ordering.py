"""Delivery order: higher priority first, then arrival order."""

from __future__ import annotations

import heapq
from typing import Generic, TypeVar

__all__ = ["ReadyQueue"]

T = TypeVar("T")


class ReadyQueue(Generic[T]):
    """A heap keyed by ``(-priority, seq)``.

    ``seq`` is unique and never changes, so a message requeued after a failed
    attempt goes back to exactly its original position, and ties never reach the
    items themselves.
    """

    __slots__ = ("_heap",)

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, T]] = []

    def push(self, priority: int, seq: int, item: T) -> None:
        heapq.heappush(self._heap, (-priority, seq, item))

    def pop(self) -> T:
        """Remove and return the next item; IndexError when empty."""
        return heapq.heappop(self._heap)[2]

    def peek(self) -> T | None:
        return self._heap[0][2] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)

    def __bool__(self) -> bool:
        return bool(self._heap)
