"""Asyncio adapter over :class:`PendingCalls`: futures plus one shared timer."""

from __future__ import annotations

import asyncio

from ..errors import ActrError, DeadlineExceeded
from ..ids import ActorId
from ..proto import package_pb2
from ..protocol.pending import PendingCalls

__all__ = ["PendingCallTable"]


class PendingCallTable:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._calls: PendingCalls[asyncio.Future[package_pb2.RpcEnvelope]] = PendingCalls()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.late_responses = 0

    def __len__(self) -> int:
        return len(self._calls)

    def register(
        self, request_id: str, peer: ActorId, timeout: float
    ) -> asyncio.Future[package_pb2.RpcEnvelope]:
        loop = self._loop
        fut: asyncio.Future[package_pb2.RpcEnvelope] = loop.create_future()
        deadline = loop.time() + timeout
        self._calls.add(request_id, peer, deadline, fut)
        if self._timer_at is None or deadline < self._timer_at:
            self._arm(deadline)
        return fut

    def discard(self, request_id: str) -> None:
        """Forget a call whose caller gave up (cancelled)."""
        self._calls.discard(request_id)

    def resolve(self, peer: ActorId, env: package_pb2.RpcEnvelope) -> bool:
        fut = self._calls.pop(env.request_id, peer)
        if fut is None:
            self.late_responses += 1
            return False
        if not fut.done():
            fut.set_result(env)
        return True

    def fail_peer(self, peer: ActorId, exc: ActrError) -> int:
        failed = self._calls.drop_peer(peer)
        for _, fut in failed:
            if not fut.done():
                fut.set_exception(exc)
        return len(failed)

    def fail_all(self, exc: ActrError) -> None:
        for _, fut in self._calls.drain():
            if not fut.done():
                fut.set_exception(exc)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        for rid, fut in self._calls.expire(self._loop.time()):
            if not fut.done():
                fut.set_exception(DeadlineExceeded(f"call {rid} timed out"))
        nxt = self._calls.next_deadline()
        if nxt is not None:
            self._arm(nxt)


