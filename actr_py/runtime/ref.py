"""ActrRef: the application's handle on a running node (the shell side)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..errors import DeadlineExceeded
from ..ids import ActorId
from ..inbound.durable_mailbox import DurableMailbox
from ..inbound.mailbox import MemoryMailbox
from ..inbound.stream_registry import StreamCallback
from .context import Context

if TYPE_CHECKING:
    from .node import ActrNode, ShellHandler

__all__ = ["ActrRef"]


class ActrRef:
    """Calls from the app into its own workload skip the mailbox and copy nothing."""

    def __init__(self, node: ActrNode) -> None:
        self._node = node
        self._tells: set[asyncio.Task[Any]] = set()

    @property
    def actor_id(self) -> ActorId:
        return self._node.actor_id

    @property
    def node(self) -> ActrNode:
        return self._node

    @property
    def mailbox(self) -> MemoryMailbox | DurableMailbox:
        """The node's mailbox; the durable one has the dead-letter API
        (``list_dead_letters``, ``get_dead_letter``, ``redrive``, ``purge``, ``stats``)."""
        return self._node.mailbox

    @property
    def context(self) -> Context:
        """A context for the app to call, tell and stream to other actors itself."""
        return Context(self._node)

    async def call(self, route_key: str, request: Any, *, timeout: float | None = None) -> Any:
        """Call this node's own workload; the request object is passed as is."""
        node = self._node
        chain = node._factory.next_request_id()
        if timeout is None:
            timeout = node.config.call_timeout
        try:
            async with asyncio.timeout(timeout):
                return await node.scheduler.call_local(route_key, request, chain)
        except TimeoutError:
            raise DeadlineExceeded(f"call {route_key} timed out after {timeout}s") from None

    async def tell(self, route_key: str, message: Any) -> None:
        """Hand a message to the workload without waiting for it to run."""
        node = self._node
        chain = node._factory.next_request_id()
        task = asyncio.get_running_loop().create_task(self._tell(route_key, message, chain))
        self._tells.add(task)
        task.add_done_callback(self._tells.discard)

    async def _tell(self, route_key: str, message: Any, chain: str) -> None:
        try:
            await self._node.scheduler.call_local(route_key, message, chain)
        except Exception:
            pass  # reported to the workload's on_error by the scheduler

    def register_stream(self, stream_id: str, callback: StreamCallback) -> None:
        """Receive chunks the workload sends to ``Dest.shell()``."""
        self._node.shell_streams.register(stream_id, callback)

    def unregister_stream(self, stream_id: str) -> bool:
        return self._node.shell_streams.unregister(stream_id)

    def register_handler(self, route_key: str, fn: ShellHandler) -> None:
        """Answer calls and tells the workload sends to ``Dest.shell()``."""
        self._node.shell_handlers[route_key] = fn

    async def shutdown(self, grace: float | None = None) -> None:
        await self._node.shutdown(grace)

    async def wait_for_shutdown(self) -> None:
        await self._node.wait_for_shutdown()

    async def __aenter__(self) -> ActrRef:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    def __repr__(self) -> str:
        return f"ActrRef({self._node.actor_id})"
