"""Correlation of outstanding calls with their responses and deadlines.

Pure: the caller passes ``now``. The asyncio adapter attaches futures and a
single timer for the earliest deadline, so a call costs no timer of its own.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["PendingCalls"]

T = TypeVar("T")


class PendingCalls(Generic[T]):
    """Maps request id -> (peer, deadline, token). Deadlines in a lazy heap."""

    def __init__(self) -> None:
        self._calls: dict[str, tuple[Hashable, float, T]] = {}
        self._deadlines: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, request_id: str) -> bool:
        return request_id in self._calls

    def add(self, request_id: str, peer: Hashable, deadline: float, token: T) -> None:
        if request_id in self._calls:
            raise KeyError(f"request id {request_id!r} is already pending")
        self._calls[request_id] = (peer, deadline, token)
        heapq.heappush(self._deadlines, (deadline, request_id))

    def pop(self, request_id: str, peer: Hashable | None = None) -> T | None:
        """Remove and return the token; ``None`` if unknown or from the wrong peer.

        Checking the peer means a third party cannot answer someone else's call.
        """
        calls = self._calls
        entry = calls.get(request_id)
        # ``not ==`` rather than ``!=``: object.__ne__ reaches ActorId.__eq__ through
        # the slot machinery, 1.6x the cost, on every response.
        if entry is None or (peer is not None and not (entry[0] is peer or entry[0] == peer)):
            return None
        del calls[request_id]
        # Drop answered calls from the top of the deadline heap now, so a busy
        # caller's heap stays as small as its calls in flight instead of
        # growing with every call until the first deadline passes.
        heap = self._deadlines
        while heap:
            deadline, rid = heap[0]
            live = calls.get(rid)
            if live is not None and live[1] == deadline:
                break
            heapq.heappop(heap)
        return entry[2]

    def discard(self, request_id: str) -> None:
        self._calls.pop(request_id, None)

    def next_deadline(self) -> float | None:
        heap = self._deadlines
        while heap and heap[0][1] not in self._calls:
            heapq.heappop(heap)
        # A stale heap entry can share an id with a newer call; the dict decides.
        while heap:
            deadline, rid = heap[0]
            entry = self._calls.get(rid)
            if entry is not None and entry[1] == deadline:
                return deadline
            heapq.heappop(heap)
        return None

    def expire(self, now: float) -> list[tuple[str, T]]:
        """Remove and return every call whose deadline is <= ``now``."""
        out: list[tuple[str, T]] = []
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            deadline, rid = heapq.heappop(heap)
            entry = self._calls.get(rid)
            if entry is not None and entry[1] == deadline:
                del self._calls[rid]
                out.append((rid, entry[2]))
        return out

    def drop_peer(self, peer: Hashable) -> list[tuple[str, T]]:
        """Remove and return every call waiting on ``peer`` (its link went down)."""
        gone = [rid for rid, entry in self._calls.items() if entry[0] == peer]
        return [(rid, self._calls.pop(rid)[2]) for rid in gone]

    def drain(self) -> list[tuple[str, T]]:
        out = [(rid, entry[2]) for rid, entry in self._calls.items()]
        self._calls.clear()
        self._deadlines.clear()
        return out
