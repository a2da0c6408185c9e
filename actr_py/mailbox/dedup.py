"""The dedup window: which requests were answered recently enough to re-send the reply."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

__all__ = ["DedupKey", "DedupWindow"]

#: (sender, request_id): keyed by sender too, so one actor can neither collide
#: with nor read another actor's replies by guessing its request ids.
DedupKey = tuple[str, str]


class DedupWindow:
    """Answered keys, bounded by count and by age.

    A sender re-sends a request only while it still waits for the reply (its
    call timeout, plus a reconnect), so remembering answers for longer than that
    buys nothing; the count bound caps memory and the table under a burst.

    Only keys live here, each with its answer time and a *token*: the row id
    of the stored reply, handed out and remembered in increasing order.
    Eviction is always oldest-first, so every stored row with a token up to
    :attr:`evicted_upto` is dead (evicted, or superseded by a newer answer to
    the same key) and the table drops them as one range: appending answers and
    cutting a prefix keeps the table's pages sequential, where a random
    request-id key would dirty a random page per answer.
    """

    __slots__ = (
        "_clock",
        "_horizon",
        "_keys",
        "_last_token",
        "evicted_upto",
        "max_age",
        "max_entries",
        "next_token",
    )

    def __init__(self, max_entries: int, max_age: float, clock: Callable[[], float]) -> None:
        if max_entries < 0 or max_age < 0:
            raise ValueError("dedup bounds must be >= 0")
        self.max_entries = max_entries
        self.max_age = max_age
        self._clock = clock
        # Insertion order is token order, so the oldest key is always first.
        self._keys: OrderedDict[DedupKey, tuple[float, int]] = OrderedDict()
        #: Answer time of the first (oldest) key: nothing expires before
        #: ``_horizon + max_age``, so most calls to :meth:`expire` stop at once.
        self._horizon = float("inf")
        #: Highest token evicted so far (0: none).
        self.evicted_upto = 0
        self.next_token = 1
        self._last_token = 0

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def reserve_token(self) -> int:
        token = self.next_token
        self.next_token += 1
        return token

    def load(self, items: Iterable[tuple[DedupKey, float, int]]) -> None:
        """Restore remembered keys in token order, applying both bounds."""
        for key, at, token in items:
            self.remember(key, token, at)
        self.next_token = max(self.next_token, self._last_token + 1)
        self.expire()

    def remember(self, key: DedupKey, token: int, at: float | None = None) -> None:
        """Remember an answer; tokens must arrive in increasing order."""
        if token <= self._last_token:
            raise ValueError(f"token {token} remembered after {self._last_token}")
        self._last_token = token
        keys = self._keys
        if key in keys:  # rare: load() meeting an answer a later one superseded
            del keys[key]
            self._horizon = next(iter(keys.values()))[0] if keys else float("inf")
        keys[key] = (self._clock() if at is None else at, token)
        if len(keys) > self.max_entries:
            self._trim_count()
        elif len(keys) == 1:
            self._horizon = keys[key][0]

    def lookup(self, key: DedupKey) -> int | None:
        """The token of ``key``'s answer while it is inside the window, else None."""
        now = self._clock()
        if self._horizon < now - self.max_age:
            self._expire(now)
        found = self._keys.get(key)
        # A wall clock that stepped back can leave an old key behind a newer one.
        if found is None or now - found[0] > self.max_age:
            return None
        return found[1]

    def expire(self) -> None:
        """Evict keys older than ``max_age``."""
        self._expire(self._clock())

    def _expire(self, now: float) -> None:
        cutoff = now - self.max_age
        if self._horizon >= cutoff:
            return
        keys = self._keys
        while keys:
            key, (at, token) = next(iter(keys.items()))
            if at >= cutoff:
                self._horizon = at
                return
            del keys[key]
            self._evict(token)
        self._horizon = float("inf")

    def _trim_count(self) -> None:
        keys = self._keys
        while len(keys) > self.max_entries:
            _, (_, token) = keys.popitem(last=False)
            if token > self.evicted_upto:
                self.evicted_upto = token
        self._horizon = next(iter(keys.values()))[0] if keys else float("inf")

    def _evict(self, token: int) -> None:
        if token > self.evicted_upto:
            self.evicted_upto = token
