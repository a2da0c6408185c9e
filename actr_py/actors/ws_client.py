"""A client for actors from outside the actr network, over a node's WebSocket gateway.

::

    client = ActorWsClient("http://127.0.0.1:8090")
    room = await client.connect("ChatRoom", "lobby", params={"nick": "ann"})
    room.on("message", print)
    await room.call("post", "hello")
    await client.close()

The connection reconnects by itself when the socket drops or the actor's node
restarts (close 1012), with exponential backoff (:class:`RetryPolicy`). It
retries 5xx and network failures and gives up at once on 4xx (refused by
``on_before_connect``, no such actor, bad request): those cannot succeed by
repeating. Calls made while reconnecting wait for the connection (up to their
timeout); calls in flight when the socket drops fail with ActorUnavailable,
because the client cannot know whether they ran.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from yarl import URL

from ..errors import ActrError, error_for_code
from .client import decode_result
from .codec import pack, unpack
from .definition import Actor
from .errors import ActorUnavailable
from .keys import ActorKey
from .timing import RetryPolicy

__all__ = ["ActorWsClient", "WsConnection"]

log = logging.getLogger("actr_py.actors.ws")


class _Refused(Exception):
    def __init__(self, status: int | None, error: ActrError) -> None:
        super().__init__(error.message)
        self.status = status
        self.error = error


def _handshake_error(exc: aiohttp.WSServerHandshakeError) -> _Refused:
    raw = exc.headers.get("X-Actor-Error") if exc.headers else None
    error: ActrError = error_for_code(exc.status, exc.message)
    if raw:
        try:
            decode_result(unpack(base64.b64decode(raw)))
        except ActrError as decoded:
            error = decoded
        except Exception:
            pass
    return _Refused(exc.status, error)


class ActorWsClient:
    """Opens :class:`WsConnection` s to actors through a gateway URL (``http://host:port``)."""

    def __init__(
        self,
        url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        retry: Callable[[], RetryPolicy] = RetryPolicy,
        call_timeout: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        self._retry = retry
        self.call_timeout = call_timeout
        self._connections: set[WsConnection] = set()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def connect(
        self,
        actor: type[Actor] | str,
        key: ActorKey | None = None,
        *,
        params: Any = None,
        mode: str = "get_or_create",
        input: Any = None,
        actor_id: str | None = None,
        reconnect: bool = True,
    ) -> WsConnection:
        """Connect (with retries as the policy allows); raises the refusal on a 4xx."""
        name = actor if isinstance(actor, str) else actor.name
        query: dict[str, str] = {}
        if actor_id is not None:
            query["id"] = actor_id
        else:
            if key is None:
                raise ValueError("connect needs a key or an actor_id")
            query["key"] = json.dumps(list(key) if isinstance(key, tuple | list) else key)
            query["mode"] = mode
            if input is not None:
                query["input"] = json.dumps(input)
        if params is not None:
            query["params"] = json.dumps(params)
        conn = WsConnection(self, URL(f"{self.url}/actors/{name}/connect"), query, reconnect)
        self._connections.add(conn)
        try:
            await conn._start()
        except BaseException:
            self._connections.discard(conn)
            raise
        return conn

    async def close(self) -> None:
        for conn in list(self._connections):
            await conn.close()
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None


class WsConnection:
    """One actor connection that survives socket drops; events arrive in order."""

    def __init__(self, client: ActorWsClient, url: URL, query: dict[str, str],
                 reconnect: bool, max_buffer: int = 10_000) -> None:
        self._client = client
        self._url = url
        self._query = query
        self._reconnect = reconnect
        self.conn_id: int | None = None
        self.actor_id: str | None = None
        #: Successful opens after the first one.
        self.reconnects = 0
        #: Handshakes tried, successful or not.
        self.attempts = 0
        self.closed = False
        #: Why the connection ended for good (a 4xx refusal, a final close code...).
        self.error: ActrError | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._open = asyncio.Event()
        self._first: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._calls: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self._buffer: deque[tuple[str, list[Any]]] = deque(maxlen=max_buffer)
        self._arrived = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._open.is_set()

    # ---- lifecycle -------------------------------------------------------------------

    async def _start(self) -> None:
        self._first = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._supervise(), name="actor-ws")
        await self._first

    async def _handshake(self) -> aiohttp.ClientWebSocketResponse:
        self.attempts += 1
        try:
            ws = await self._client._http().ws_connect(
                self._url.with_query(self._query), autoping=True, heartbeat=None,
                max_msg_size=4 << 20,
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise _handshake_error(exc) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _Refused(None, ActorUnavailable(f"cannot reach {self._url}: {exc}")) from None
        try:
            kind, conn_id, actor_id = unpack(await ws.receive_bytes(timeout=10.0))
            if kind != 0:
                raise ValueError("no hello")
        except Exception as exc:
            await ws.close()
            raise _Refused(None, ActorUnavailable(f"bad hello from gateway: {exc}")) from None
        self.conn_id, self.actor_id = conn_id, actor_id
        if self._query.get("mode") == "create":
            self._query["mode"] = "get"  # reconnecting must not create it again
        return ws

    async def _supervise(self) -> None:
        policy = self._client._retry()
        first = self._first
        assert first is not None
        try:
            while not self.closed:
                try:
                    ws = await self._handshake()
                except _Refused as refused:
                    if not RetryPolicy.retryable(refused.status) or not self._reconnect:
                        self._end(refused.error)
                        return
                    error = refused.error
                else:
                    if first.done():
                        self.reconnects += 1
                    policy.reset()
                    self._ws = ws
                    self._open.set()
                    if not first.done():
                        first.set_result(None)
                    code = await self._read(ws)
                    self._open.clear()
                    self._ws = None
                    self._fail_calls(ActorUnavailable("connection lost before the answer"))
                    if self.closed:
                        return
                    if code is not None and 4000 <= code <= 4999:
                        self._end(ActorUnavailable(f"closed by the actor ({code})"))
                        return
                    if not self._reconnect:
                        self._end(ActorUnavailable(f"connection closed ({code})"))
                        return
                    error = ActorUnavailable(f"connection closed ({code})")
                delay = policy.next_delay()
                if delay is None:
                    self._end(error)
                    return
                log.debug("reconnecting to %s in %.2fs: %s", self._url, delay, error.message)
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            pass
        finally:
            if not first.done():
                first.set_exception(self.error or ActorUnavailable("connection closed"))

    def _end(self, error: ActrError) -> None:
        self.error = error
        self.closed = True
        self._arrived.set()
        self._fail_calls(error)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> int | None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.BINARY:
                continue
            try:
                frame = unpack(msg.data)
                if frame[0] == 3:
                    self._deliver(frame[1], frame[2])
                elif frame[0] == 2:
                    fut = self._calls.pop(frame[1], None)
                    if fut is not None and not fut.done():
                        fut.set_result(frame[2])
            except Exception:
                log.warning("bad frame from gateway")
        return ws.close_code if ws.close_code != 1006 else None

    def _fail_calls(self, error: ActrError) -> None:
        calls, self._calls = self._calls, {}
        for fut in calls.values():
            if not fut.done():
                fut.set_exception(error)

    async def close(self) -> None:
        if self.closed and self._task is None:
            return
        self.closed = True
        self._arrived.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait((task,))
        self._fail_calls(ActorUnavailable("connection closed by the client"))
        self._client._connections.discard(self)

    async def wait_connected(self, timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout):
            while not self._open.is_set():
                if self.closed:
                    raise self.error or ActorUnavailable("connection closed")
                waiter = asyncio.ensure_future(self._open.wait())
                closed = asyncio.ensure_future(self._arrived.wait())
                try:
                    await asyncio.wait((waiter, closed), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    closed.cancel()
                self._arrived.clear()

    # ---- calls and events -------------------------------------------------------------

    async def call(self, action: str, *args: Any, timeout: float | None = None) -> Any:
        """Run an action through this connection (the actor sees ``self.conn``)."""
        return await self._request([action, list(args)], timeout)

    async def _request(self, fields: list[Any], timeout: float | None) -> Any:
        timeout = self._client.call_timeout if timeout is None else timeout
        async with asyncio.timeout(timeout):
            await self.wait_connected()
            ws = self._ws
            if ws is None:
                raise ActorUnavailable("connection lost")
            call_id = next(self._ids)
            kind = 1 if len(fields) == 2 else 4
            fut = self._calls[call_id] = asyncio.get_running_loop().create_future()
            try:
                await ws.send_bytes(pack([kind, call_id, *fields]))
                return decode_result(await fut)
            finally:
                self._calls.pop(call_id, None)

    async def send(self, queue: str, body: Any, *, timeout: float | None = None) -> int:
        """Put ``body`` on the actor's queue; returns once it is durable."""
        return await self._request([queue, body, False, None], timeout)

    async def enqueue_and_wait(self, queue: str, body: Any, *, timeout: float = 30.0) -> Any:
        """Put ``body`` on the queue and wait for the consumer's ``complete(reply)``."""
        return await self._request([queue, body, True, timeout], timeout + 5.0)

    def on(self, event: str, callback: Callable[..., Any]) -> None:
        self._listeners.setdefault(event, []).append(callback)

    def _deliver(self, event: str, args: list[Any]) -> None:
        for cb in self._listeners.get(event, ()):
            try:
                cb(*args)
            except Exception:
                log.exception("listener for %r failed", event)
        self._buffer.append((event, args))
        self._arrived.set()

    async def next_event(
        self, event: str | None = None, *, timeout: float | None = None
    ) -> tuple[str, list[Any]]:
        """The next event (named ``event``, skipping others); waits across reconnects."""
        async with asyncio.timeout(timeout):
            while True:
                while self._buffer:
                    name, args = self._buffer.popleft()
                    if event is None or name == event:
                        return name, args
                if self.closed:
                    raise self.error or ActorUnavailable("connection closed")
                self._arrived.clear()
                await self._arrived.wait()

    async def events(self) -> AsyncIterator[tuple[str, list[Any]]]:
        while True:
            try:
                yield await self.next_event()
            except ActrError:
                return
