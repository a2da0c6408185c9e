"""The hosting node's WebSocket endpoint for clients outside the actr network.

``GET /actors/{name}/connect?key=<json>&mode=get|get_or_create|create&input=<json>&params=<json>``
(or ``&id=<actor id>`` instead of key and mode). The connection is admitted
(``on_before_connect``) *before* the upgrade, so a refusal is an HTTP status:
4xx (bad request, refused, no such actor - do not retry) or 5xx (node stopping,
internal error - retry); the error itself is in the ``X-Actor-Error`` header
(base64 msgpack, the in-band error form). A key served by another node is
answered ``307`` to that node's gateway.

Frames are binary msgpack lists. Server: ``[0, conn_id, actor_id]`` once,
``[2, call_id, result]`` answers, ``[3, event, args]`` events. Client:
``[1, call_id, action, args]`` calls, ``[4, call_id, queue, body, wait, timeout]``
queue sends (answered with the sequence, or the reply when ``wait``).

Close codes: 4001 the actor disconnected you, 4004 the actor was destroyed
(both final); 1012 the actor went to sleep or its node is stopping (reconnect).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from ..errors import ActrError
from ..ids import ActorId
from ..runtime.context import Context
from .codec import pack, unpack
from .connections import Connection
from .errors import ActorInternalError, ActorUnavailable, BadArguments, UserError
from .host import MODE_CREATE, MODE_GET, MODE_GET_OR_CREATE, Elsewhere
from .keys import decode_id, encode_key
from .workload import SYS_ROUTE, error_in_band

if TYPE_CHECKING:
    from .host import ActorHost

__all__ = ["CLOSE_DESTROYED", "CLOSE_DISCONNECTED", "CLOSE_RECONNECT", "ActorGateway"]

log = logging.getLogger("actr_py.actors.gateway")

CLOSE_DISCONNECTED, CLOSE_DESTROYED, CLOSE_RECONNECT = 4001, 4004, 1012
_MODES = {"get": MODE_GET, "get_or_create": MODE_GET_OR_CREATE, "create": MODE_CREATE}
_MAX_QUERY = 16 * 1024


def _error_header(exc: ActrError) -> str:
    body = error_in_band(exc) or [2, exc.code, exc.message, "ActrError"]
    return base64.b64encode(pack(body)).decode()


class _Socket:
    __slots__ = ("conn", "request", "tasks", "ws")

    def __init__(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.request = request
        self.ws = ws
        self.conn: Connection | None = None
        self.tasks: set[asyncio.Task[Any]] = set()


class ActorGateway:
    def __init__(self, host: ActorHost, bind: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.bind = bind
        self.port = port
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._sockets: set[_Socket] = set()
        self._peer_gateways: dict[ActorId, str] = {}

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/actors/{name}/connect", self._connect)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.bind, self.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.port = port
        self.url = f"http://{host}:{port}"

    async def close(self) -> None:
        """Node stopping: tell clients to reconnect (elsewhere or later)."""
        for sock in list(self._sockets):
            with contextlib.suppress(Exception):
                await sock.ws.close(code=CLOSE_RECONNECT, message=b"node stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def abort_all(self) -> int:
        """Drop every client socket without a close frame (what a crash looks like)."""
        n = 0
        for sock in list(self._sockets):
            transport = sock.request.transport
            if transport is not None:
                transport.abort()
                n += 1
        return n

    # ---- admission ----------------------------------------------------------------------

    @staticmethod
    def _refuse(exc: ActrError) -> web.Response:
        return web.Response(
            status=exc.code if 400 <= exc.code <= 599 else 500,
            text=exc.message + "\n",
            headers={"X-Actor-Error": _error_header(exc)},
        )

    async def _gateway_of(self, owner: ActorId) -> str | None:
        url = self._peer_gateways.get(owner)
        if url is None:
            node = self.host.node
            assert node is not None
            data = await Context(node).call(
                owner, SYS_ROUTE + "gateway", [], response_type=bytes, timeout=5.0
            )
            url = unpack(data)[1]
            if url:
                self._peer_gateways[owner] = url
        return url

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        host = self.host
        name = request.match_info["name"]
        q = request.query
        try:
            if len(request.query_string) > _MAX_QUERY:
                raise BadArguments("query too long")
            if "id" in q:
                name_of_id, key, nonce = decode_id(q["id"])
                if name_of_id != name:
                    raise BadArguments("the id names another actor type")
                mode: int = MODE_GET
            else:
                key = encode_key(json.loads(q["key"]))
                mode = _MODES[q.get("mode", "get_or_create")]
                nonce = None
            input = json.loads(q["input"]) if "input" in q else None
            params = json.loads(q["params"]) if "params" in q else None
        except (KeyError, ValueError) as exc:
            return self._refuse(BadArguments(f"bad connect query: {exc}"))
        except ActrError as exc:
            return self._refuse(exc)
        ws = web.WebSocketResponse(max_msg_size=4 << 20)
        sock = _Socket(request, ws)
        prepared = asyncio.Event()

        async def write(event: str, args: list[Any]) -> None:
            await prepared.wait()
            await ws.send_bytes(pack([3, event, args]))

        async def hangup(reason: str, final: bool) -> None:
            if not prepared.is_set() or ws.closed:
                return
            code = CLOSE_RECONNECT
            if final:
                code = CLOSE_DESTROYED if reason == "destroyed" else CLOSE_DISCONNECTED
            await ws.close(code=code, message=reason.encode()[:120])

        try:
            conn = await host.connections.connect(
                name, key, params, write, "websocket", mode=mode, input=input, nonce=nonce,
                hangup=hangup,
            )
        except Elsewhere as moved:
            try:
                url = await self._gateway_of(moved.owner)
            except ActrError as exc:
                return self._refuse(ActorUnavailable(f"the key's node: {exc.message}"))
            if not url:
                return self._refuse(ActorUnavailable("the key's node has no gateway"))
            raise web.HTTPTemporaryRedirect(location=url + request.path_qs) from None
        except ActrError as exc:
            return self._refuse(exc)
        except Exception as exc:
            return self._refuse(host._internal(exc, f"gateway connect {name}"))
        sock.conn = conn
        self._sockets.add(sock)
        try:
            try:
                await ws.prepare(request)
            except Exception:
                return ws
            prepared.set()
            await ws.send_bytes(pack([0, conn.id, host._actor_id_of(conn.actor)]))
            async for msg in ws:
                if msg.type != WSMsgType.BINARY:
                    continue
                try:
                    frame = unpack(msg.data)
                    kind, call_id = frame[0], frame[1]
                    if kind == 1 and isinstance(frame[3], list) and len(frame) == 4:
                        work = self._call(sock, name, key, call_id, frame[2], frame[3])
                    elif kind == 4 and len(frame) == 6:
                        work = self._send(sock, name, key, call_id, *frame[2:])
                    else:
                        raise ValueError("unknown frame")
                except Exception:
                    await ws.close(code=1003, message=b"frames: [1, id, action, args] or "
                                   b"[4, id, queue, body, wait, timeout]")
                    break
                task = asyncio.ensure_future(work)
                sock.tasks.add(task)
                task.add_done_callback(sock.tasks.discard)
        finally:
            self._sockets.discard(sock)
            for task in list(sock.tasks):
                task.cancel()
            await host.connections.close(conn, "client closed")
        return ws

    async def _call(
        self, sock: _Socket, name: str, key: str, call_id: Any, action: str, args: list[Any]
    ) -> None:
        conn = sock.conn
        assert conn is not None
        await self._answer(sock, call_id, self.host.invoke(
            name, key, action, args, mode=MODE_GET, conn_id=conn.id
        ))

    async def _send(
        self, sock: _Socket, name: str, key: str, call_id: Any, queue: Any, body: Any,
        wait: Any, timeout: Any,
    ) -> None:
        if not isinstance(queue, str) or not (timeout is None or isinstance(timeout, int | float)):
            await self._answer(sock, call_id, _raise(BadArguments("bad queue frame")))
            return
        await self._answer(sock, call_id, self.host.queues.enqueue(
            name, key, queue, body, mode=MODE_GET, wait=bool(wait), timeout=timeout
        ))

    async def _answer(self, sock: _Socket, call_id: Any, work: Awaitable[Any]) -> None:
        try:
            value = await work
            body = pack([2, call_id, [0, value]])
        except ActrError as exc:
            result = error_in_band(exc) or error_in_band(ActorUnavailable(exc.message))
            body = pack([2, call_id, result])
        except Elsewhere:
            body = pack([2, call_id, error_in_band(ActorUnavailable("the actor moved"))])
        except Exception as exc:
            err: ActorInternalError | UserError = self.host._internal(exc, "gateway call")
            body = pack([2, call_id, error_in_band(err)])
        if not sock.ws.closed:
            with contextlib.suppress(Exception):
                await sock.ws.send_bytes(body)


async def _raise(exc: BaseException) -> Any:
    raise exc
