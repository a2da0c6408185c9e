"""Counting what arrives at the far end of a one-way figure (tells, streams).

One-way rates are measured where the data lands: the sender notes
``time.monotonic()`` before its first message, the far end notes it at each
arrival, and the rate is ``count / (last arrival - start)``. On Linux
``time.monotonic()`` is CLOCK_MONOTONIC, one clock for every process of the
machine, so the two stamps compare across processes. Both our figures and
their bare baselines count through this class.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

__all__ = ["Sink"]


class Sink:
    """Counts messages and bytes; :meth:`expect` waits for a given count."""

    __slots__ = ("_target", "_waiter", "bytes", "count", "first", "last")

    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0
        self.first = 0.0
        self.last = 0.0
        self._target = 0
        self._waiter: asyncio.Future[None] | None = None

    def add(self, size: int) -> None:
        self.count += 1
        self.bytes += size
        now = time.monotonic()
        if not self.first:
            self.first = now
        self.last = now
        waiter = self._waiter
        if waiter is not None and self.count >= self._target and not waiter.done():
            waiter.set_result(None)

    def reset(self) -> None:
        self.count = self.bytes = 0
        self.first = self.last = 0.0

    async def expect(self, count: int, quiet: float) -> dict[str, Any]:
        """Wait until ``count`` arrived, or nothing arrived for ``quiet`` seconds.

        Lossy lanes (latency-first) may never reach ``count``; the quiet period
        ends the wait then. Returns the counters and resets them.
        """
        loop = asyncio.get_running_loop()
        while self.count < count:
            seen = self.count
            self._target = count
            self._waiter = loop.create_future()
            try:
                await asyncio.wait_for(self._waiter, quiet)
            except TimeoutError:
                if self.count == seen:
                    break
            finally:
                self._waiter = None
        out = {"count": self.count, "bytes": self.bytes, "first": self.first, "last": self.last}
        self.reset()
        return out
