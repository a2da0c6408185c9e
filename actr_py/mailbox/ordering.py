"""Delivery order: higher priority first, then arrival order."""

from __future__ import annotations

import heapq
from collections import deque
from typing import Generic, TypeVar

__all__ = ["ReadyQueue"]

T = TypeVar("T")


class ReadyQueue(Generic[T]):
    """Items ordered by ``(-priority, seq)``.

    ``seq`` is unique and never changes, so a message requeued after a failed
    attempt goes back to exactly its original position, and ties never reach
    the items themselves.

    Each priority has a FIFO and a heap. New messages arrive with increasing
    ``seq``, so nearly every push is an append and every pop a popleft; only
    an item pushed back out of order (failed attempt, release) goes to the
    heap. One heap over a backlog of thousands cost a dozen tuple comparisons
    per pop.
    """

    __slots__ = ("_by_priority", "_levels", "size")

    def __init__(self) -> None:
        #: (priority, fifo, heap) per priority seen, highest first (a handful).
        self._levels: list[tuple[int, deque[tuple[int, T]], list[tuple[int, T]]]] = []
        self._by_priority: dict[int, tuple[deque[tuple[int, T]], list[tuple[int, T]]]] = {}
        #: Items queued; a plain attribute, cheaper to test than ``len()`` on the hot path.
        self.size = 0

    def push(self, priority: int, seq: int, item: T) -> None:
        level = self._by_priority.get(priority)
        if level is None:
            level = self._by_priority[priority] = (deque(), [])
            self._levels.append((priority, *level))
            self._levels.sort(key=lambda entry: -entry[0])
        fifo, back = level
        if not fifo or seq > fifo[-1][0]:
            fifo.append((seq, item))
        else:
            heapq.heappush(back, (seq, item))
        self.size += 1

    def pop(self) -> T:
        """Remove and return the next item; IndexError when empty."""
        for _, fifo, back in self._levels:
            if back:
                if not fifo or back[0][0] < fifo[0][0]:
                    self.size -= 1
                    return heapq.heappop(back)[1]
            elif not fifo:
                continue
            self.size -= 1
            return fifo.popleft()[1]
        raise IndexError("pop from an empty ReadyQueue")

    def peek(self) -> T | None:
        for _, fifo, back in self._levels:
            if back:
                if not fifo or back[0][0] < fifo[0][0]:
                    return back[0][1]
            elif not fifo:
                continue
            return fifo[0][1]
        return None

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0
