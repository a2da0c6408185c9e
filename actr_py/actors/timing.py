"""The time-driven decisions of the actor host, as pure logic with injected time.

* :class:`SaveThrottle` - when dirty state is flushed.
* :class:`IdleTable` - which awake actors have been idle long enough to sleep.
* :class:`DueQueue` - which schedules are due, in order.
* :class:`RetryPolicy` - client reconnect backoff, and which failures to retry.

Nothing here reads a clock or touches the loop; the host passes ``now``.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["DueQueue", "IdleTable", "RetryPolicy", "SaveThrottle", "Sleepable"]


class SaveThrottle:
    """At most one flush per ``interval``, and never later than ``interval`` after a change.

    The first change after a flush opens a window; changes inside it ride the
    same flush (no debounce, so a constantly busy actor is still saved).
    """

    __slots__ = ("deadline", "interval")

    def __init__(self, interval: float) -> None:
        if interval < 0:
            raise ValueError("save interval must be >= 0")
        self.interval = interval
        self.deadline: float | None = None

    def mark(self, now: float) -> float | None:
        """A change at ``now``; returns the flush deadline when a new window opened."""
        if self.deadline is None:
            self.deadline = now + self.interval
            return self.deadline
        return None

    def due(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    def flushed(self) -> None:
        self.deadline = None


class Sleepable(Protocol):
    _busy: int
    _idle_since: float


S = TypeVar("S", bound=Sleepable)


class IdleTable(Generic[S]):
    """The awake actors of one type, kept in the order they last became idle.

    An actor is busy while anything holds it (an action, a connection, run-loop
    work, ``keep_awake``); ``_busy`` counts those. When it drops to 0 the actor
    moves to the end, so the expired ones are always a prefix among the idle.
    No per-actor timer: one sweep walks the prefix.
    """

    __slots__ = ("items", "timeout")

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.items: dict[str, S] = {}

    def __len__(self) -> int:
        return len(self.items)

    def get(self, key: str) -> S | None:
        return self.items.get(key)

    def add(self, key: str, item: S, now: float) -> None:
        item._idle_since = now
        self.items[key] = item

    def remove(self, key: str) -> S | None:
        return self.items.pop(key, None)

    def became_idle(self, key: str, item: S, now: float) -> None:
        items = self.items
        item._idle_since = now
        if items.pop(key, None) is not None:
            items[key] = item

    def expired(self, now: float, limit: int | None = None) -> list[tuple[str, S]]:
        """Idle actors whose timeout passed at ``now``, oldest first."""
        timeout = self.timeout
        if timeout is None:
            return []
        out: list[tuple[str, S]] = []
        for key, item in self.items.items():
            if item._busy:
                continue
            if now - item._idle_since < timeout:
                break
            out.append((key, item))
            if limit is not None and len(out) >= limit:
                break
        return out

    def next_deadline(self) -> float | None:
        """When the oldest idle actor will be due; None if none is idle (or never sleeps)."""
        if self.timeout is None:
            return None
        for item in self.items.values():
            if not item._busy:
                return item._idle_since + self.timeout
        return None


T = TypeVar("T")


class DueQueue(Generic[T]):
    """Pending schedules by (due time, id): ties fire in creation order. Cancels are lazy."""

    __slots__ = ("_cancelled", "_heap", "_live")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._live: set[int] = set()
        self._cancelled: set[int] = set()

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, item_id: int) -> bool:
        return item_id in self._live

    def push(self, due: float, item_id: int, item: T) -> None:
        self._cancelled.discard(item_id)
        self._live.add(item_id)
        heapq.heappush(self._heap, (due, item_id, item))

    def cancel(self, item_id: int) -> bool:
        if item_id not in self._live:
            return False
        self._live.discard(item_id)
        self._cancelled.add(item_id)
        return True

    def _trim(self) -> None:
        heap = self._heap
        while heap and heap[0][1] in self._cancelled:
            self._cancelled.discard(heapq.heappop(heap)[1])

    def next_due(self) -> float | None:
        self._trim()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[tuple[float, int, T]]:
        """Everything due at ``now``, earliest first (ties by id)."""
        out = []
        while True:
            self._trim()
            if not self._heap or self._heap[0][0] > now:
                return out
            entry = heapq.heappop(self._heap)
            self._live.discard(entry[1])
            out.append(entry)

    def __iter__(self) -> Iterator[tuple[float, int, T]]:
        return (e for e in sorted(self._heap) if e[1] in self._live)


class RetryPolicy:
    """Exponential backoff with jitter; retries server-side (5xx) and network failures only.

    A 4xx says the request itself is refused (bad params, not allowed, no such
    actor): repeating it cannot succeed, so the client gives up at once.
    """

    __slots__ = ("attempts", "base", "factor", "max_attempts", "max_delay", "rng")

    def __init__(
        self,
        base: float = 0.2,
        max_delay: float = 10.0,
        *,
        factor: float = 2.0,
        max_attempts: int | None = None,
        rng: random.Random | Any = None,
    ) -> None:
        self.base = base
        self.max_delay = max_delay
        self.factor = factor
        self.max_attempts = max_attempts
        self.rng = rng or random.Random()
        self.attempts = 0

    @staticmethod
    def retryable(status: int | None) -> bool:
        """None stands for a network failure (no HTTP status at all)."""
        return status is None or status >= 500

    def next_delay(self) -> float | None:
        """The wait before the next attempt, or None when attempts are exhausted."""
        if self.max_attempts is not None and self.attempts >= self.max_attempts:
            return None
        delay = min(self.max_delay, self.base * self.factor**self.attempts)
        self.attempts += 1
        # "Equal jitter": half fixed, half random, so delays still grow.
        return delay / 2 + self.rng.random() * delay / 2

    def reset(self) -> None:
        self.attempts = 0
