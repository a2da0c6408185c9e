"""Context: what a handler can do, bound to the message it is handling."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..ids import ActorId, ActrTypeName
from ..payload_type import PayloadType
from ..proto import package_pb2
from .dest import Dest

if TYPE_CHECKING:
    from ..inbound.stream_registry import StreamCallback
    from .node import ActrNode

__all__ = ["Context"]


class Context:
    """Passed to every handler and hook.

    ``caller_id`` is ``None`` for calls from this node's own shell (its
    ActrRef) and for lifecycle hooks. Calls made through a context carry its
    call chain, which is what lets A -> B -> A complete (see the scheduler).
    """

    __slots__ = ("_chain", "_node", "caller_id", "request_id")

    def __init__(
        self,
        node: ActrNode,
        caller_id: ActorId | None = None,
        request_id: str = "",
        chain: str | None = None,
    ) -> None:
        self._node = node
        self.caller_id = caller_id
        self.request_id = request_id
        self._chain = chain

    @property
    def self_id(self) -> ActorId:
        return self._node.actor_id

    async def call(
        self,
        dest: Dest | ActorId | str,
        route_key: str,
        request: Any,
        *,
        response_type: type | None = None,
        timeout: float | None = None,
        payload_type: PayloadType = PayloadType.RPC_RELIABLE,
    ) -> Any:
        """Call ``route_key`` on ``dest`` and return its decoded response.

        Raises the :class:`~actr_py.errors.RemoteError` subclass matching the
        error code: NotFound (404), BadRequest (400), InternalError (500),
        DeadlineExceeded (504), Unavailable (503)...
        """
        return await self._node._call(
            dest, route_key, request, response_type, timeout, payload_type, self._chain
        )

    async def tell(
        self,
        dest: Dest | ActorId | str,
        route_key: str,
        message: Any,
        *,
        payload_type: PayloadType = PayloadType.RPC_RELIABLE,
    ) -> None:
        """Send without waiting; the receiver never answers a tell."""
        await self._node._tell(dest, route_key, message, payload_type, self._chain)

    async def discover(self, actr_type: ActrTypeName | str) -> ActorId:
        """One running actor of ``actr_type``; :class:`NotFound` when there is none."""
        return await self._node.discover(actr_type)

    def register_stream(self, stream_id: str, callback: StreamCallback) -> None:
        self._node.streams.register(stream_id, callback)

    def unregister_stream(self, stream_id: str) -> bool:
        return self._node.streams.unregister(stream_id)

    async def send_data_stream(
        self,
        dest: Dest | ActorId | str,
        chunk: package_pb2.DataStream,
        payload_type: PayloadType = PayloadType.STREAM_RELIABLE,
    ) -> None:
        await self._node.send_data_stream(dest, chunk, payload_type)
