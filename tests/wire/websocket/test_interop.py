"""Our RFC 6455 endpoints against other implementations and against forged bytes.

* aiohttp's WebSocket client talks to our listener, and our dialer to an
  aiohttp WebSocket server: the lane is standard WebSocket, not a dialect.
* A hand-driven socket (``_raw``) checks the listener's HTTP refusals, and
  that every RFC 6455 violation fails the connection with the right close
  code while fragmented messages and interleaved control frames are handled.
* A hand-written server checks what the dialer refuses in a 101 answer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from actr_py.errors import Forbidden, ProtocolError, Unavailable
from actr_py.payload_type import PayloadType
from actr_py.wire.websocket import (
    WebSocketConnection,
    WebSocketOptions,
    connect_websocket,
    decode_frames,
    decode_hello,
    encode_frame,
    encode_hello,
)
from actr_py.wire.websocket.rfc6455 import WebSocketViolation

from ._raw import RawSocket, raw_frame
from ._support import CALLEE, CALLER, FAST, FrameSink, HmacAuthority, ListenerFactory

RPC = PayloadType.RPC_RELIABLE
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def _closed_with(conn: WebSocketConnection) -> asyncio.Future[BaseException | None]:
    fut: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
    conn.add_close_callback(lambda _c, exc: fut.done() or fut.set_result(exc))
    return fut


# ---- aiohttp's client against our listener -----------------------------------------------


async def test_aiohttp_client_speaks_the_lane_with_our_listener(
    authority: HmacAuthority, start_listener: ListenerFactory
) -> None:
    accepted: list[WebSocketConnection] = []
    listener, sink = await start_listener(CALLEE, on_connection=accepted.append)
    big = os.urandom(1024 * 1024)
    async with (
        aiohttp.ClientSession() as session,
        # compress=15 offers permessage-deflate: the listener must decline it.
        session.ws_connect(
            listener.address, compress=15, autoping=False, max_msg_size=8 * 1024 * 1024
        ) as ws,
    ):
        assert ws.compress == 0
        await ws.send_bytes(encode_hello(CALLER, authority.credential(CALLER)))
        hello = decode_hello(await ws.receive_bytes(timeout=3))
        assert hello.actr_id.serial_number == CALLEE.serial
        # aiohttp masks, we unmask: small, coalesced and a 1 MiB frame.
        await ws.send_bytes(encode_frame(RPC, b"one"))
        await ws.send_bytes(encode_frame(RPC, b"two") + encode_frame(PayloadType.RPC_SIGNAL, b""))
        await ws.send_bytes(encode_frame(PayloadType.STREAM_RELIABLE, big))
        await sink.wait_for(4)
        assert sink.frames == [
            (CALLER, RPC, b"one"),
            (CALLER, RPC, b"two"),
            (CALLER, PayloadType.RPC_SIGNAL, b""),
            (CALLER, PayloadType.STREAM_RELIABLE, big),
        ]
        # We answer its ping with a pong carrying the same bytes.
        await ws.ping(b"are you there")
        pong = await ws.receive(timeout=3)
        assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"are you there")
        # Our frames, unmasked, arrive whole: one direct, the rest coalesced.
        server_side = accepted[0]
        for i in range(50):
            await server_side.send(RPC, b"%02d" % i)
        await server_side.send(PayloadType.STREAM_RELIABLE, big[::-1])
        frames: list[tuple[PayloadType, bytes]] = []
        while len(frames) < 51:
            msg = await ws.receive(timeout=3)
            assert msg.type is aiohttp.WSMsgType.BINARY, msg
            frames += decode_frames(msg.data, 2**24)
        assert frames[:50] == [(RPC, b"%02d" % i) for i in range(50)]
        assert frames[50] == (PayloadType.STREAM_RELIABLE, big[::-1])
        # Our close reaches it as a proper close frame with code and reason.
        gone = _closed_with(server_side)
        await server_side.close("bye from the listener")
        closing = await ws.receive(timeout=3)
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert (closing.data, closing.extra) == (1000, "bye from the listener")
    assert isinstance(await asyncio.wait_for(gone, 3), Unavailable)


async def test_aiohttp_client_closing_with_a_code_ends_our_lane(
    authority: HmacAuthority, start_listener: ListenerFactory
) -> None:
    accepted: list[WebSocketConnection] = []
    listener, _ = await start_listener(CALLEE, on_connection=accepted.append)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(listener.address)
        await ws.send_bytes(encode_hello(CALLER, authority.credential(CALLER)))
        await ws.receive_bytes(timeout=3)
        gone = _closed_with(accepted[0])
        assert await ws.close(code=4000, message=b"client leaving")
        assert ws.close_code == 4000  # our echo of its code completed the handshake
    exc = await asyncio.wait_for(gone, 3)
    assert isinstance(exc, Unavailable)
    assert "code 4000" in exc.message and "client leaving" in exc.message
    await asyncio.wait_for(accepted[0].wait_closed(), 3)


# ---- our dialer against an aiohttp server -------------------------------------------------


ServerHandler = Callable[[web.WebSocketResponse, HmacAuthority], Awaitable[None]]


@pytest.fixture
async def aiohttp_server(
    authority: HmacAuthority,
) -> AsyncIterator[Callable[[ServerHandler, dict[str, object]], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def start(handler: ServerHandler, ws_kwargs: dict[str, object]) -> str:
        async def endpoint(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(**ws_kwargs)  # type: ignore[arg-type]
            await ws.prepare(request)
            await handler(ws, authority)
            return ws

        app = web.Application()
        app.router.add_get("/lane", endpoint)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"ws://127.0.0.1:{runner.addresses[0][1]}/lane"

    yield start
    for runner in runners:
        await runner.cleanup()


async def _hello_back(ws: web.WebSocketResponse, authority: HmacAuthority) -> None:
    await authority.authenticate(decode_hello(await ws.receive_bytes()))
    await ws.send_bytes(encode_hello(CALLEE, authority.credential(CALLEE)))


async def _dial(authority: HmacAuthority, url: str, sink: FrameSink) -> WebSocketConnection:
    return await connect_websocket(
        url,
        self_id=CALLER,
        credential=authority.credential(CALLER),
        expected_peer=CALLEE,
        authenticate=authority.authenticate,
        on_frame=sink,
        timeout=3.0,
        options=FAST,
    )


async def test_our_dialer_with_an_aiohttp_server_echo_and_heartbeat(
    authority: HmacAuthority,
    aiohttp_server: Callable[[ServerHandler, dict[str, object]], Awaitable[str]],
) -> None:
    seen: list[bytes] = []

    async def echo(ws: web.WebSocketResponse, auth: HmacAuthority) -> None:
        await _hello_back(ws, auth)
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.BINARY:
                seen.append(msg.data)
                await ws.send_bytes(msg.data)

    # heartbeat=0.1: aiohttp pings us and drops the socket if no pong comes back.
    url = await aiohttp_server(
        echo, {"heartbeat": 0.1, "max_msg_size": 8 * 1024 * 1024, "compress": False}
    )
    sink = FrameSink()
    conn = await _dial(authority, url, sink)
    try:
        big = os.urandom(3 * 1024 * 1024 + 7)  # our masking, checked by aiohttp's unmasking
        await conn.send(PayloadType.STREAM_RELIABLE, big)
        for i in range(20):
            await conn.send(RPC, b"%d" % i)
        await sink.wait_for(21)
        assert sink.frames[0] == (CALLEE, PayloadType.STREAM_RELIABLE, big)
        assert [d for _, _, d in sink.frames[1:]] == [b"%d" % i for i in range(20)]
        await asyncio.sleep(0.5)  # five of aiohttp's heartbeats: we must answer them
        assert conn.usable
        await conn.send(RPC, b"still here")
        await sink.wait_for(22)
    finally:
        await conn.close()
    assert len(seen) >= 3


async def test_an_aiohttp_server_refusing_with_a_lane_code_is_a_typed_error(
    authority: HmacAuthority,
    aiohttp_server: Callable[[ServerHandler, dict[str, object]], Awaitable[str]],
) -> None:
    async def refuse(ws: web.WebSocketResponse, _auth: HmacAuthority) -> None:
        await ws.receive_bytes()
        await ws.close(code=4403, message=b"not you")

    url = await aiohttp_server(refuse, {})
    with pytest.raises(Forbidden) as info:
        await _dial(authority, url, FrameSink())
    assert info.value.code == 403 and "not you" in info.value.message


async def test_an_aiohttp_server_closing_an_open_lane_is_reported(
    authority: HmacAuthority,
    aiohttp_server: Callable[[ServerHandler, dict[str, object]], Awaitable[str]],
) -> None:
    async def close_soon(ws: web.WebSocketResponse, auth: HmacAuthority) -> None:
        await _hello_back(ws, auth)
        await ws.receive_bytes()
        await ws.close(code=1001, message=b"server going away")

    url = await aiohttp_server(close_soon, {})
    conn = await _dial(authority, url, FrameSink())
    gone = _closed_with(conn)
    await conn.send(RPC, b"trigger")
    exc = await asyncio.wait_for(gone, 3)
    assert isinstance(exc, Unavailable)
    assert "code 1001" in exc.message and "server going away" in exc.message
    await asyncio.wait_for(conn.wait_closed(), 3)


# ---- the listener's HTTP refusals ------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "status"),
    [
        ("GET /elsewhere HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 404),
        ("GET /actr/ws HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /actr/ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", 400),
        ("POST /actr/ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400),
        ("GET /actr/ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n", 400),
        ("GET /actr/ws HTTP/1.1\r\nX: " + "y" * 20000 + "\r\n\r\n", 400),
    ],
    ids=["wrong-path", "no-upgrade", "version-8", "post", "bad-key", "huge-head"],
)
async def test_the_listener_refuses_what_is_not_a_websocket_upgrade(
    start_listener: ListenerFactory, head: str, status: int
) -> None:
    listener, sink = await start_listener(CALLEE)
    sock = await RawSocket.connect(listener.address)
    try:
        got, headers = await sock.request(head)
        assert got == status
        assert headers["connection"] == "close"
        body = await asyncio.wait_for(sock.reader.read(), 3)  # then the listener hangs up
        assert len(body) == int(headers["content-length"])
        if "Version: 8" in head:
            assert headers["sec-websocket-version"] == "13"
    finally:
        await sock.close()
    assert sink.frames == [] and listener.connections == frozenset()


async def test_plain_http_clients_get_a_404(start_listener: ListenerFactory) -> None:
    listener, _ = await start_listener(CALLEE)
    http_url = listener.address.replace("ws://", "http://").replace("/actr/ws", "/")
    async with aiohttp.ClientSession() as session, session.get(http_url) as response:
        assert response.status == 404


# ---- framing rules, with a hand-driven client ---------------------------------------------------


async def _open_raw(
    authority: HmacAuthority, start_listener: ListenerFactory, options: WebSocketOptions = FAST
) -> tuple[RawSocket, WebSocketConnection, FrameSink]:
    accepted: asyncio.Future[WebSocketConnection] = asyncio.get_running_loop().create_future()
    listener, sink = await start_listener(
        CALLEE, on_connection=accepted.set_result, options=options
    )
    sock = await RawSocket.upgrade(listener.address)
    sock.send(raw_frame(OP_BINARY, encode_hello(CALLER, authority.credential(CALLER))))
    hello = await sock.read_frame()
    assert (hello.fin, hello.opcode) == (True, OP_BINARY)
    decode_hello(hello.payload)
    return sock, await asyncio.wait_for(accepted, 3), sink


async def test_fragmented_messages_with_interleaved_control_frames(
    authority: HmacAuthority, start_listener: ListenerFactory
) -> None:
    sock, conn, sink = await _open_raw(authority, start_listener)
    try:
        message = encode_frame(RPC, b"first") + encode_frame(RPC, b"second" * 100)
        parts = [message[:3], message[3:10], b"", message[10:]]
        sock.send(raw_frame(OP_BINARY, parts[0], fin=False))
        sock.send(raw_frame(OP_CONT, parts[1], fin=False))
        sock.send(raw_frame(OP_PING, b"mid-message"))  # control frames may interleave
        sock.send(raw_frame(OP_CONT, parts[2], fin=False))
        sock.send(raw_frame(OP_PONG, b"unsolicited"))  # ignored
        sock.send(raw_frame(OP_CONT, parts[3], fin=True))
        # Byte-at-a-time delivery must parse the same.
        for byte in raw_frame(OP_BINARY, encode_frame(RPC, b"dribbled")):
            sock.send(bytes([byte]))
            await sock.writer.drain()
        pong = await sock.read_frame()
        assert (pong.opcode, pong.payload) == (OP_PONG, b"mid-message")
        await sink.wait_for(3)
        assert sink.payloads == [b"first", b"second" * 100, b"dribbled"]
        assert conn.usable
    finally:
        await sock.close()


async def test_a_client_close_is_echoed_and_ends_the_lane(
    authority: HmacAuthority, start_listener: ListenerFactory
) -> None:
    sock, conn, _ = await _open_raw(authority, start_listener)
    gone = _closed_with(conn)
    sock.send(raw_frame(OP_CLOSE, (4001).to_bytes(2, "big") + "done ✓".encode()))
    frames = await sock.read_until_closed()
    assert [(f.opcode, f.close_code) for f in frames] == [(OP_CLOSE, 4001)]
    exc = await asyncio.wait_for(gone, 3)
    assert isinstance(exc, Unavailable) and "code 4001: done ✓" in exc.message
    await sock.close()


VIOLATIONS = [
    pytest.param(raw_frame(OP_BINARY, encode_frame(RPC, b"x"), masked=False), 1002, id="unmasked"),
    pytest.param(raw_frame(OP_BINARY, encode_frame(RPC, b"x"), rsv=4), 1002, id="rsv1"),
    pytest.param(raw_frame(0x3, b"?"), 1002, id="reserved-opcode"),
    pytest.param(raw_frame(0xB, b"?"), 1002, id="reserved-control-opcode"),
    pytest.param(raw_frame(OP_PING, b"p" * 126), 1002, id="long-ping"),
    pytest.param(raw_frame(OP_PING, b"p", fin=False), 1002, id="fragmented-ping"),
    pytest.param(raw_frame(OP_CONT, b"orphan"), 1002, id="orphan-continuation"),
    pytest.param(
        raw_frame(OP_BINARY, b"a", fin=False) + raw_frame(OP_BINARY, b"b"),
        1002,
        id="message-inside-message",
    ),
    pytest.param(raw_frame(OP_CLOSE, b"\x03"), 1002, id="one-byte-close"),
    pytest.param(raw_frame(OP_CLOSE, (1005).to_bytes(2, "big")), 1002, id="close-1005"),
    pytest.param(raw_frame(OP_CLOSE, b"\x03\xe8\xc3\x28"), 1007, id="close-bad-utf8"),
    pytest.param(raw_frame(OP_TEXT, b"hi"), 4400, id="text"),
    # Declared beyond max_message_size: refused from the header, no payload sent.
    pytest.param(raw_frame(OP_BINARY, b"", declared=2048 + 6), 1009, id="too-big"),
    pytest.param(
        raw_frame(OP_BINARY, b"a" * 1500, fin=False) + raw_frame(OP_CONT, b"b" * 1000),
        1009,
        id="fragments-too-big",
    ),
]


@pytest.mark.parametrize(("forged", "close_code"), VIOLATIONS)
async def test_violations_fail_the_connection_with_the_right_code(
    authority: HmacAuthority, start_listener: ListenerFactory, forged: bytes, close_code: int
) -> None:
    opts = WebSocketOptions(
        max_frame_size=2048, coalesce_limit=2048, heartbeat_interval=0.2, dead_peer_timeout=1.0
    )
    sock, conn, sink = await _open_raw(authority, start_listener, opts)
    gone = _closed_with(conn)
    sock.send(raw_frame(OP_BINARY, encode_frame(RPC, b"before")))
    sock.send(forged)
    sock.send(raw_frame(OP_BINARY, encode_frame(RPC, b"after")))  # never delivered
    frames = await sock.read_until_closed()
    assert frames[-1].opcode == OP_CLOSE and frames[-1].close_code == close_code
    exc = await asyncio.wait_for(gone, 3)
    assert isinstance(exc, Unavailable)
    assert isinstance(exc.__cause__, ProtocolError)
    if close_code != 4400:
        assert isinstance(exc.__cause__, WebSocketViolation)
        assert exc.__cause__.close_code == close_code
    assert sink.payloads == [b"before"]
    await sock.close()


async def test_a_peer_that_vanishes_without_a_close_frame_is_reported(
    authority: HmacAuthority, start_listener: ListenerFactory
) -> None:
    sock, conn, _ = await _open_raw(authority, start_listener)
    gone = _closed_with(conn)
    sock.writer.transport.abort()
    exc = await asyncio.wait_for(gone, 3)
    assert isinstance(exc, Unavailable) and not conn.usable
    await asyncio.wait_for(conn.wait_closed(), 3)


# ---- what the dialer refuses in an answer -------------------------------------------------


async def _fake_server(answer: Callable[[str], bytes]) -> tuple[asyncio.Server, str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        key = next(
            line.split(":", 1)[1].strip()
            for line in head.split("\r\n")
            if line.lower().startswith("sec-websocket-key:")
        )
        writer.write(answer(key))
        await writer.drain()
        await reader.read()  # until the dialer hangs up
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/lane"


def _accept(key: str) -> str:
    digest = hashlib.sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return base64.b64encode(digest).decode()


def _switching(key: str, accept: str | None = None) -> bytes:
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept or _accept(key)}\r\n\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (lambda key: b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "404"),
        (lambda key: _switching(key, accept=_accept("another key")), "Accept"),
        (lambda key: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "200"),
    ],
    ids=["404", "wrong-accept", "200"],
)
async def test_the_dialer_refuses_a_bad_upgrade_answer(
    authority: HmacAuthority, answer: Callable[[str], bytes], detail: str
) -> None:
    server, url = await _fake_server(answer)
    try:
        with pytest.raises(Unavailable) as info:
            await _dial(authority, url, FrameSink())
        assert detail in info.value.message
        assert isinstance(info.value.__cause__, ProtocolError)
    finally:
        server.close()


async def test_the_dialer_fails_a_server_that_masks_its_frames(authority: HmacAuthority) -> None:
    server, url = await _fake_server(
        lambda key: _switching(key)
        + raw_frame(OP_BINARY, encode_hello(CALLEE, authority.credential(CALLEE)), masked=True)
    )
    try:
        with pytest.raises(WebSocketViolation) as info:
            await _dial(authority, url, FrameSink())
        assert info.value.close_code == 1002
        assert "masked frame from the server" in info.value.message
    finally:
        server.close()
