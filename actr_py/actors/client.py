"""Clients of virtual actors inside the actr network: handles, calls, queues, connections.

::

    client = host.client()                            # on a hosting node
    client = ActorClient(ref.context, via="acme+actors")  # on any other node
    counter = client.get_or_create(Counter, "room-1")
    await counter.increment(2)                        # or counter.call("increment", 2)
    await counter.send("jobs", {"n": 1})
    conn = await counter.connect({"nick": "ann"})
    name, args = await conn.next_event("changed")

On a hosting node a key served here runs in process (arguments and results
still pass through msgpack, so callers never share objects with the actor);
any other key travels as actr RPC to the node that serves it. A client on a
node without actors sends everything to a host node (``via``: an actor id or
an actr type to discover), which forwards it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..errors import ActrError, NotFound, Unavailable, error_for_code
from ..ids import ActorId, ActrTypeName
from ..proto import package_pb2
from ..runtime.context import Context
from . import errors as actor_errors
from .codec import StateEncodeError, pack, unpack, unwrap_result
from .definition import Actor
from .errors import ActorUnavailable
from .host import MODE_CREATE, MODE_GET, MODE_GET_OR_CREATE, Elsewhere
from .keys import ActorKey, decode_id, decode_key, encode_key
from .workload import SYS_ROUTE, action_route

if TYPE_CHECKING:
    from .host import ActorHost

__all__ = ["ActorClient", "ActorConnection", "ActorHandle", "decode_result"]

log = logging.getLogger("actr_py.actors.client")

_ACTOR_ERRORS = {name: getattr(actor_errors, name) for name in actor_errors.__all__}
_listener_tasks: set[asyncio.Task[Any]] = set()


def decode_result(result: Any) -> Any:
    """The value of an in-band result, or raise the error it carries (same class as raised)."""
    if isinstance(result, list) and len(result) == 4 and result[0] == 2:
        _, code, message, cls_name = result
        cls = _ACTOR_ERRORS.get(cls_name)
        if cls is None or cls is actor_errors.UserError:
            raise error_for_code(code, message)
        raise cls(message)
    return unwrap_result(result)


def _copy(value: Any) -> Any:
    """What the other side of a wire would see: no shared objects, msgpack types only."""
    return unpack(pack(value))


def _name_of(actor: type[Actor] | str) -> str:
    return actor if isinstance(actor, str) else actor.name


class ActorClient:
    def __init__(
        self,
        context: Context,
        *,
        host: ActorHost | None = None,
        via: ActorId | ActrTypeName | str | None = None,
        timeout: float | None = None,
    ) -> None:
        if host is None and via is None:
            raise ValueError("an ActorClient needs a local host or a host node to go via")
        self._ctx = context
        self._host = host
        self._via = via
        self._via_id: ActorId | None = via if isinstance(via, ActorId) else None
        self.timeout = timeout

    @property
    def context(self) -> Context:
        return self._ctx

    # ---- handles ------------------------------------------------------------------

    def get(self, actor: type[Actor] | str, key: ActorKey) -> ActorHandle:
        """A handle to an existing actor; calls raise ActorNotFound if there is none."""
        return ActorHandle(self, _name_of(actor), encode_key(key), MODE_GET, None, None)

    def get_or_create(
        self, actor: type[Actor] | str, key: ActorKey, input: Any = None
    ) -> ActorHandle:
        """A handle that creates the actor (with ``input``) on first use if needed."""
        return ActorHandle(
            self, _name_of(actor), encode_key(key), MODE_GET_OR_CREATE, _copy(input), None
        )

    async def create(
        self, actor: type[Actor] | str, key: ActorKey, input: Any = None
    ) -> ActorHandle:
        """Create the actor now; ActorExists (409) if the key already has one."""
        name, text = _name_of(actor), encode_key(key)
        probe = ActorHandle(self, name, text, MODE_CREATE, _copy(input), None)
        actor_id = await probe.resolve()
        return ActorHandle(self, name, text, MODE_GET, None, decode_id(actor_id)[2])

    def get_for_id(self, actor_id: str) -> ActorHandle:
        """The actor incarnation ``actor_id`` names; ActorNotFound once it was destroyed."""
        name, key, nonce = decode_id(actor_id)
        return ActorHandle(self, name, key, MODE_GET, None, nonce)

    # ---- transport -------------------------------------------------------------------

    async def _target(self) -> ActorId:
        if self._via_id is None:
            assert self._via is not None
            self._via_id = await self._ctx.discover(self._via)  # type: ignore[arg-type]
        return self._via_id

    async def _rpc(
        self, owner: ActorId | None, route: str, payload: list[Any], timeout: float | None
    ) -> Any:
        target = owner if owner is not None else await self._target()
        try:
            data = await self._ctx.call(
                target, route, payload, response_type=bytes,
                timeout=timeout if timeout is not None else self.timeout,
            )
        except Unavailable:
            if owner is None and not isinstance(self._via, ActorId):
                self._via_id = None  # discover another host next time
            raise
        except NotFound as exc:
            if type(exc) is not NotFound:
                raise
            # Actor-layer errors come in-band: a bare 404 is the node lacking the route.
            if route.startswith(SYS_ROUTE):
                raise actor_errors.ActorNotFound(f"{target} hosts no actors") from None
            raise actor_errors.ActionNotFound(f"{route} is not served by {target}") from None
        return decode_result(unpack(data))

    async def _run(
        self,
        handle: ActorHandle,
        local: Callable[[], Awaitable[Any]],
        route: str,
        payload: list[Any],
        timeout: float | None,
    ) -> Any:
        host = self._host
        if host is None:
            return await self._rpc(None, route, payload, timeout)
        for attempt in range(2):
            try:
                return await local()
            except Elsewhere as moved:
                owner = moved.owner
            try:
                return await self._rpc(owner, route, payload, timeout)
            except (Unavailable, NotFound) as exc:
                if isinstance(exc, actor_errors.ActorNotFound | actor_errors.ActionNotFound):
                    raise
                host.placement.forget(handle.name, handle.key)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _action(
        self, handle: ActorHandle, action: str, args: tuple[Any, ...], conn_id: int | None,
        owner: ActorId | None, timeout: float | None,
    ) -> Any:
        payload = [handle.key, handle.mode, handle.input, handle.nonce, list(args), conn_id, 0]
        route = action_route(handle.name, action)
        if owner is not None:
            return await self._rpc(owner, route, payload, timeout)
        host = self._host

        async def local() -> Any:
            assert host is not None
            result = await host.invoke(
                handle.name, handle.key, action, _copy(list(args)), mode=handle.mode,
                input=handle.input, nonce=handle.nonce, conn_id=conn_id,
            )
            try:
                return _copy(result)
            except StateEncodeError as exc:  # as over the wire: the actor's fault, not ours
                raise host._internal(exc, f"result of {handle.name}.{action}") from None

        return await self._run(handle, local, route, payload, timeout)


class ActorHandle:
    """A reference to ``(name, key)``: cheap, does nothing until used; ``await h.act(...)``."""

    __slots__ = ("_client", "input", "key", "mode", "name", "nonce")

    def __init__(
        self, client: ActorClient, name: str, key: str, mode: int, input: Any, nonce: str | None
    ) -> None:
        self._client = client
        self.name = name
        self.key = key
        self.mode = mode
        self.input = input
        self.nonce = nonce

    @property
    def key_parts(self) -> tuple[str, ...]:
        return decode_key(self.key)

    def __getattr__(self, action: str) -> Callable[..., Awaitable[Any]]:
        if action.startswith("_"):
            raise AttributeError(action)
        return functools.partial(self.call, action)

    async def call(self, action: str, *args: Any, timeout: float | None = None) -> Any:
        """Run ``action(*args)`` on the actor and return its result."""
        return await self._client._action(self, action, args, None, None, timeout)

    async def resolve(self) -> str:
        """Make sure the actor exists (as the handle's mode allows); return its id."""
        return (await self._locate())[0]

    async def _locate(self) -> tuple[str, ActorId | None]:
        """The actor's id and the node serving it (None: this node's host)."""
        c = self._client
        host = c._host
        payload = [self.name, self.key, self.mode, self.input, self.nonce, 0]

        async def local() -> list[Any]:
            assert host is not None
            actor_id = await host.resolve(self.name, self.key, self.mode, self.input, self.nonce)
            return [actor_id, None]

        actor_id, owner = await c._run(self, local, SYS_ROUTE + "resolve", payload, None)
        return actor_id, None if owner is None else ActorId.parse(owner)

    async def destroy(self) -> None:
        """Run on_destroy and delete the actor's state, queue and schedules."""
        c = self._client
        host = c._host
        payload = [self.name, self.key, self.nonce, 0]

        async def local() -> None:
            assert host is not None
            await host.destroy(self.name, self.key, self.nonce)

        await c._run(self, local, SYS_ROUTE + "destroy", payload, None)

    async def send(self, queue: str, body: Any) -> int:
        """Put ``body`` on the actor's queue; returns once it is durable (with its sequence)."""
        return await self._enqueue(queue, body, False, None)

    async def enqueue_and_wait(self, queue: str, body: Any, *, timeout: float = 30.0) -> Any:
        """Put ``body`` on the queue and wait for the consumer's ``complete(reply)``."""
        return await self._enqueue(queue, body, True, timeout)

    async def _enqueue(self, queue: str, body: Any, wait: bool, timeout: float | None) -> Any:
        c = self._client
        host = c._host
        payload = [self.name, self.key, self.mode, self.input, self.nonce, queue, body, wait,
                   timeout, 0]

        async def local() -> Any:
            assert host is not None
            result = await host.queues.enqueue(
                self.name, self.key, queue, body, mode=self.mode, input=self.input,
                nonce=self.nonce, wait=wait, timeout=timeout,
            )
            return _copy(result)

        rpc_timeout = None if timeout is None else timeout + 5.0
        return await c._run(self, local, SYS_ROUTE + "send", payload, rpc_timeout)

    async def connect(self, params: Any = None) -> ActorConnection:
        """Attach to the actor's events (``broadcast`` and per-connection ``send``)."""
        conn = ActorConnection(self)
        await conn._open(_copy(params))
        return conn

    def __repr__(self) -> str:
        return f"ActorHandle({self.name!r}, {self.key_parts!r})"


class ActorConnection:
    """Events from one actor, in order; calls through it see ``self.conn`` on the actor."""

    def __init__(self, handle: ActorHandle, max_buffer: int = 10_000) -> None:
        self.handle = handle
        self.conn_id: int | None = None
        self.actor_id: str | None = None
        self.closed = False
        self.close_reason = ""
        self._owner: ActorId | None = None  # None: served by the local host
        self._local: Any = None
        self._stream_id = ""
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self._buffer: deque[tuple[str, list[Any]]] = deque(maxlen=max_buffer)
        self._arrived = asyncio.Event()

    # ---- receiving -------------------------------------------------------------------

    def on(self, event: str, callback: Callable[..., Any]) -> None:
        """Call ``callback(*args)`` for every ``event`` (sync, or async: scheduled)."""
        self._listeners.setdefault(event, []).append(callback)

    def _deliver(self, event: str, args: list[Any]) -> None:
        if event == "$closed":
            self.closed = True
            self.close_reason = str(args[0]) if args else ""
            self._arrived.set()
            return
        for cb in self._listeners.get(event, ()):
            try:
                result = cb(*args)
                if asyncio.iscoroutine(result):
                    task = asyncio.ensure_future(result)
                    _listener_tasks.add(task)
                    task.add_done_callback(_listener_tasks.discard)
            except Exception:
                log.exception("listener for %r failed", event)
        self._buffer.append((event, args))
        self._arrived.set()

    async def next_event(
        self, event: str | None = None, *, timeout: float | None = None
    ) -> tuple[str, list[Any]]:
        """The next buffered event (named ``event``, skipping others); TimeoutError after
        ``timeout``, ActorUnavailable once closed."""
        async with asyncio.timeout(timeout):
            while True:
                while self._buffer:
                    name, args = self._buffer.popleft()
                    if event is None or name == event:
                        return name, args
                if self.closed:
                    raise ActorUnavailable(f"connection closed: {self.close_reason}")
                self._arrived.clear()
                await self._arrived.wait()

    async def events(self) -> AsyncIterator[tuple[str, list[Any]]]:
        while True:
            try:
                yield await self.next_event()
            except ActorUnavailable:
                return

    # ---- opening, calling, closing ---------------------------------------------------

    async def _open(self, params: Any) -> None:
        h = self.handle
        client = h._client
        host = client._host
        if host is not None:
            try:
                conn = await host.connections.connect(
                    h.name, h.key, params, self._write_local, "local", mode=h.mode,
                    input=h.input, nonce=h.nonce, hangup=self._hangup_local,
                )
            except Elsewhere as moved:
                self._owner = moved.owner
            else:
                self._local = conn
                self.conn_id = conn.id
                self.actor_id = host._actor_id_of(conn.actor)
                return
        ctx = client._ctx
        if self._owner is None:
            # Connect to the serving node itself (not through a forwarder), so the lane
            # its events come back on is one this node opened.
            _, self._owner = await h._locate()
        self._stream_id = f"actr.actors.conn.{os.urandom(8).hex()}"
        ctx.register_stream(self._stream_id, self._on_chunk)
        payload = [h.name, h.key, h.mode, h.input, h.nonce, params, self._stream_id,
                   str(ctx.self_id), 0]
        try:
            self.conn_id, self.actor_id, owner = await client._rpc(
                self._owner, SYS_ROUTE + "connect", payload, None
            )
        except BaseException:
            ctx.unregister_stream(self._stream_id)
            raise
        self._owner = ActorId.parse(owner)

    async def _write_local(self, event: str, args: list[Any]) -> None:
        self._deliver(event, _copy(args))

    async def _hangup_local(self, reason: str, final: bool) -> None:
        self._deliver("$closed", [reason, final])

    async def _on_chunk(self, chunk: package_pb2.DataStream, sender: ActorId) -> None:
        try:
            event, args = unpack(chunk.payload)
        except Exception:
            log.warning("undecodable event chunk from %s", sender)
            return
        self._deliver(event, args)

    async def call(self, action: str, *args: Any, timeout: float | None = None) -> Any:
        """Call an action through this connection (the actor sees it as ``self.conn``)."""
        if self.closed:
            raise ActorUnavailable(f"connection closed: {self.close_reason}")
        h = self.handle
        return await h._client._action(h, action, args, self.conn_id, self._owner, timeout)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = "closed by the client"
        self._arrived.set()
        h = self.handle
        client = h._client
        if self._local is not None:
            assert client._host is not None
            await client._host.connections.close(self._local, "client closed")
            return
        try:
            await client._rpc(
                self._owner, SYS_ROUTE + "disconnect", [h.name, h.key, self.conn_id], 5.0
            )
        except ActrError as exc:
            log.debug("disconnect: %s", exc)
        finally:
            client._ctx.unregister_stream(self._stream_id)
