"""Reconnect delays: exponential from ``base`` to ``maximum``, with jitter.

Pure (the random source is injected), so the schedule is testable exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """``base * 2**n`` capped at ``maximum``, each delay shortened by up to ``jitter``.

    Jitter spreads the reconnects of many nodes after a server restart so they
    do not arrive in one burst (and trip the per-IP connection limit). Delays
    stay within ``[d * (1 - jitter), d]`` so they never collapse to zero.
    """

    def __init__(
        self,
        base: float = 1.0,
        maximum: float = 60.0,
        *,
        jitter: float = 0.5,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if base <= 0 or maximum < base:
            raise ValueError("backoff needs 0 < base <= maximum")
        if not 0 <= jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        self.base = base
        self.maximum = maximum
        self.jitter = jitter
        self._rand = rand
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.base * 2 ** min(self.attempt, 64))
        self.attempt += 1
        return ceiling * (1 - self.jitter * self._rand())

    def reset(self) -> None:
        """Call after a connection succeeded: the next failure starts from ``base``."""
        self.attempt = 0
