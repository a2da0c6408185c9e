"""The node workload of an actor host: actr routes in, forwarding to the owning node out.

Routes (payloads are msgpack lists; answers are msgpack bytes, in-band result
``[0, value]`` / ``[1, user error...]`` / ``[2, code, message, class]``):

* ``actr.actors.<Name>.<action>`` - ``[key, mode, input, nonce, args, conn_id, hops]``
* ``actr.actors.sys.resolve`` - ``[name, key, mode, input, nonce, hops]``
  -> ``[actor id, serving node id]``
* ``actr.actors.sys.destroy`` - ``[name, key, nonce, hops]``
* ``actr.actors.sys.send`` - ``[name, key, mode, input, nonce, queue, body, wait, timeout, hops]``
* ``actr.actors.sys.connect`` - ``[name, key, mode, input, nonce, params, stream, reply_to, hops]``
  -> ``[conn_id, actor_id, host node id]``; events then flow as data-stream chunks
* ``actr.actors.sys.disconnect`` - ``[name, key, conn_id]``
* ``actr.actors.sys.gateway`` - ``[]`` -> this node's WebSocket gateway URL or None

A key served elsewhere is forwarded as the same route to its owner, with
``hops`` + 1 (at most :data:`MAX_HOPS`), so any host node can take any request.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..errors import ActrError, NotFound, Unavailable
from ..ids import ActorId
from ..proto import package_pb2
from ..runtime.context import Context
from ..runtime.workload import Workload, handler
from . import errors as actor_errors
from .codec import StateEncodeError, error_result, pack
from .errors import ActorUnavailable, UserError
from .host import Elsewhere

if TYPE_CHECKING:
    from .host import ActorHost

__all__ = ["MAX_HOPS", "SYS_ROUTE", "action_route", "build_workload", "error_in_band"]

log = logging.getLogger("actr_py.actors")

MAX_HOPS = 2
SYS_ROUTE = "actr.actors.sys."
_MANY = 1 << 20  # the node must not serialize: actors interleave, each key has its own rules
_ACTOR_ERRORS = {name: getattr(actor_errors, name) for name in actor_errors.__all__}


def action_route(name: str, action: str) -> str:
    return f"actr.actors.{name}.{action}"


def error_in_band(exc: ActrError) -> list[Any] | None:
    """Actor-layer errors travel in-band so the client gets the same class back."""
    if isinstance(exc, UserError):
        return error_result(exc)
    if type(exc).__name__ in _ACTOR_ERRORS and type(exc) is _ACTOR_ERRORS[type(exc).__name__]:
        return [2, exc.code, exc.message, type(exc).__name__]
    return None


class _HostWorkload(Workload):
    host: ActorHost

    def __init__(self, host: ActorHost) -> None:
        self.host = host

    async def on_start(self, ctx: Context) -> None:
        assert self.host.node is not None, "attach with ActorHost.attach(system)"
        await self.host.start(self.host.node)

    async def on_stop(self, ctx: Context) -> None:
        await self.host.stop()

    async def on_signaling_connected(self) -> None:
        if self.host.running:
            self.host._spawn(self.host.on_signaling_connected())

    async def _serve(
        self,
        ctx: Context,
        route: str,
        req: list[Any],
        hops_at: int,
        where: tuple[str, str],
        run: Callable[[], Awaitable[Any]],
    ) -> bytes:
        """Run locally, or forward to the owner; answer in-band."""
        host = self.host
        for attempt in range(2):
            try:
                value = await run()
            except Elsewhere as moved:
                hops = int(req[hops_at])
                if hops >= MAX_HOPS:
                    raise ActorUnavailable("the key's placement did not settle") from None
                forwarded = list(req)
                forwarded[hops_at] = hops + 1
                try:
                    return await ctx.call(moved.owner, route, forwarded, response_type=bytes)
                except (Unavailable, NotFound) as exc:
                    # The owner we had cached is gone or moved: ask placement again once.
                    host.placement.forget(*where)
                    if attempt:
                        msg = f"the key's node is unreachable: {exc.message}"
                        raise ActorUnavailable(msg) from None
                    continue
            except ActrError as exc:
                body = error_in_band(exc)
                if body is None:
                    raise
                return pack(body)
            except Exception as exc:
                return pack(error_in_band(host._internal(exc, route)))
            try:
                return pack([0, value])
            except StateEncodeError as exc:
                return pack(error_in_band(host._internal(exc, f"the result of {route}")))
        raise AssertionError("unreachable")

    # ---- system routes -------------------------------------------------------------

    @handler(SYS_ROUTE + "resolve", concurrency=_MANY)
    async def _sys_resolve(self, ctx: Context, req: list[Any]) -> bytes:
        name, key, mode, input, nonce, _ = req
        host = self.host

        async def run() -> list[str]:
            assert host.node is not None
            return [await host.resolve(name, key, mode, input, nonce), str(host.node.actor_id)]

        return await self._serve(ctx, SYS_ROUTE + "resolve", req, 5, (name, key), run)

    @handler(SYS_ROUTE + "destroy", concurrency=_MANY)
    async def _sys_destroy(self, ctx: Context, req: list[Any]) -> bytes:
        name, key, nonce, _ = req
        return await self._serve(
            ctx, SYS_ROUTE + "destroy", req, 3, (name, key),
            lambda: self.host.destroy(name, key, nonce),
        )

    @handler(SYS_ROUTE + "send", concurrency=_MANY)
    async def _sys_send(self, ctx: Context, req: list[Any]) -> bytes:
        name, key, mode, input, nonce, queue, body, wait, timeout, _ = req
        return await self._serve(
            ctx, SYS_ROUTE + "send", req, 9, (name, key),
            lambda: self.host.queues.enqueue(
                name, key, queue, body, mode=mode, input=input, nonce=nonce, wait=wait,
                timeout=timeout,
            ),
        )

    @handler(SYS_ROUTE + "connect", concurrency=_MANY)
    async def _sys_connect(self, ctx: Context, req: list[Any]) -> bytes:
        name, key, mode, input, nonce, params, stream_id, reply_to, _ = req
        host = self.host
        node = host.node
        assert node is not None

        async def run() -> list[Any]:
            peer = ActorId.parse(reply_to)
            seq = itertools.count()

            async def write(event: str, args: list[Any]) -> None:
                chunk = package_pb2.DataStream(
                    stream_id=stream_id, sequence=next(seq), payload=pack([event, args])
                )
                await node.send_data_stream(peer, chunk)

            async def hangup(reason: str, final: bool) -> None:
                await write("$closed", [reason, final])

            conn = await host.connections.connect(
                name, key, params, write, "stream", mode=mode, input=input, nonce=nonce,
                hangup=hangup,
            )
            return [conn.id, host._actor_id_of(conn.actor), str(node.actor_id)]

        return await self._serve(ctx, SYS_ROUTE + "connect", req, 8, (name, key), run)

    @handler(SYS_ROUTE + "disconnect", concurrency=_MANY)
    async def _sys_disconnect(self, ctx: Context, req: list[Any]) -> bytes:
        name, key, conn_id = req
        conn = self.host.connections.find(name, key, conn_id)
        if conn is not None:
            await self.host.connections.close(conn, "client closed")
        return pack([0, None])

    @handler(SYS_ROUTE + "gateway", concurrency=_MANY)
    async def _sys_gateway(self, ctx: Context, req: Any) -> bytes:
        return pack([0, self.host.gateway_url])


def _action_handler(name: str, action: str) -> Callable[..., Awaitable[bytes]]:
    route = action_route(name, action)

    async def serve(self: _HostWorkload, ctx: Context, req: list[Any]) -> bytes:
        key, mode, input, nonce, args, conn_id, _ = req
        return await self._serve(
            ctx, route, req, 6, (name, key),
            lambda: self.host.invoke(
                name, key, action, args, mode=mode, input=input, nonce=nonce, conn_id=conn_id
            ),
        )

    serve.__name__ = f"action_{name}_{action}"
    return handler(route, concurrency=_MANY)(serve)


def build_workload(host: ActorHost) -> Workload:
    """A Workload subclass made for this host's actor types (one route per action)."""
    namespace: dict[str, Any] = {}
    for name, cls in host.definitions.items():
        for action in cls._actions:
            namespace[f"action_{name}_{action}"] = _action_handler(name, action)
    workload_cls = type("ActorHostWorkload", (_HostWorkload,), namespace)
    return workload_cls(host)
