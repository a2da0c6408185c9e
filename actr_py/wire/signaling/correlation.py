"""Matching replies to requests by envelope id; no I/O, only futures."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from ...errors import DeadlineExceeded, StateError

__all__ = ["Correlator"]

T = TypeVar("T")


class Correlator(Generic[T]):
    """Pending requests keyed by id; a reply resolves exactly the request it names."""

    def __init__(self) -> None:
        self._pending: dict[str, asyncio.Future[T]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, key: object) -> bool:
        return key in self._pending

    def expect(self, key: str) -> asyncio.Future[T]:
        if key in self._pending:
            raise StateError(f"request id {key!r} is already pending")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending[key] = fut
        return fut

    def resolve(self, key: str, value: T) -> bool:
        """Deliver a reply; False when nobody waits for ``key`` (late or unknown)."""
        fut = self._pending.pop(key, None)
        if fut is None or fut.done():
            return False
        fut.set_result(value)
        return True

    def fail(self, key: str, exc: BaseException) -> bool:
        fut = self._pending.pop(key, None)
        if fut is None or fut.done():
            return False
        fut.set_exception(exc)
        return True

    def fail_all(self, exc: BaseException) -> int:
        """Fail every pending request (the connection is gone); returns how many."""
        pending, self._pending = self._pending, {}
        n = 0
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(exc)
                n += 1
        return n

    async def wait(self, key: str, fut: asyncio.Future[T], timeout: float) -> T:
        """Await the reply; :class:`DeadlineExceeded` (504) after ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise DeadlineExceeded(f"no reply to {key} within {timeout:g}s") from None
        finally:
            self._pending.pop(key, None)
