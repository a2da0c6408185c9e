"""The seam every wire implements: a connection to one peer carrying frames.

A frame is ``(PayloadType, bytes)``. Wires never look inside the bytes; the
transport layer above maps PayloadType to lanes, the gates decode envelopes.
Inbound frames go to a :data:`FrameHandler` that the wire *awaits* per frame,
so a slow consumer stops the reader and the peer feels backpressure.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable

from ..ids import ActorId
from ..payload_type import PayloadType
from ..proto import package_pb2

__all__ = ["DONE", "CloseCallback", "FrameHandler", "WireConnection"]

FrameHandler = Callable[[ActorId, PayloadType, bytes], Awaitable[None]]


_EXHAUSTED = iter(())


class _Done:
    """An awaitable that is already finished (``await DONE`` is None, never suspends).

    What a send returns when it handed the message over synchronously, so
    the hot path makes no coroutine per message yet callers can still await.
    """

    __slots__ = ()

    def __await__(self):  # type: ignore[no-untyped-def]
        return _EXHAUSTED  # stays exhausted, so one iterator serves every await

    def __repr__(self) -> str:
        return "DONE"


#: The finished awaitable (see :class:`_Done`).
DONE: Awaitable[None] = _Done()
CloseCallback = Callable[["WireConnection", "BaseException | None"], None]


class WireConnection(abc.ABC):
    """One live connection to one authenticated peer."""

    #: Short name of the wire kind ("inproc", "websocket", "webrtc").
    kind: str = ""

    def __init__(self, peer_id: ActorId) -> None:
        self.peer_id = peer_id
        self._close_callbacks: list[CloseCallback] = []
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def add_close_callback(self, callback: CloseCallback) -> None:
        """Run ``callback(conn, exc)`` once when the connection ends (any reason)."""
        if self._closed:
            callback(self, None)
        else:
            self._close_callbacks.append(callback)

    def _mark_closed(self, exc: BaseException | None = None) -> None:
        """Subclasses call this exactly when the connection is gone."""
        if self._closed:
            return
        self._closed = True
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            callback(self, exc)

    @abc.abstractmethod
    async def send(self, payload_type: PayloadType, data: bytes) -> None:
        """Send one frame; raise :class:`~actr_py.errors.Unavailable` when closed."""

    def send_envelope(
        self, payload_type: PayloadType, envelope: package_pb2.RpcEnvelope
    ) -> Awaitable[None]:
        """Send an RPC envelope the runtime built and will not touch again; await the result.

        Wires with bytes underneath serialize it; the in-process wire hands
        the object over as is. Not a coroutine function, so that a wire that
        hands over synchronously can return :data:`DONE` (no coroutine per
        message); errors may therefore be raised by the call itself.
        """
        return self.send(payload_type, envelope.SerializeToString())

    @abc.abstractmethod
    async def close(self, reason: str = "") -> None:
        """Close gracefully; idempotent."""
