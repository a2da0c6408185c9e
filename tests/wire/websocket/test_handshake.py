"""The LaneHello exchange over real sockets on 127.0.0.1 (raw peers use aiohttp's client)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from actr_py.errors import Forbidden, Unauthorized, Unavailable
from actr_py.payload_type import PayloadType
from actr_py.proto import actr_pb2
from actr_py.wire.websocket import (
    WebSocketConnection,
    connect_websocket,
    encode_frame,
    encode_hello,
)

from ._support import CALLEE, CALLER, FAST, FrameSink, HmacAuthority, ListenerFactory, actor


async def _dial(authority: HmacAuthority, url: str, **kwargs: object) -> WebSocketConnection:
    params: dict[str, object] = {
        "self_id": CALLER,
        "credential": authority.credential(CALLER),
        "expected_peer": CALLEE,
        "authenticate": authority.authenticate,
        "on_frame": FrameSink(),
        "timeout": 3.0,
        "options": FAST,
    }
    params.update(kwargs)
    return await connect_websocket(url, **params)  # type: ignore[arg-type]


async def test_handshake_authenticates_both_sides_and_the_lane_is_bidirectional(
    authority: HmacAuthority, start_listener: ListenerFactory
) -> None:
    accepted: list[WebSocketConnection] = []
    listener, callee_sink = await start_listener(CALLEE, on_connection=accepted.append)
    assert listener.address.startswith("ws://127.0.0.1:")
    assert listener.address.endswith("/actr/ws")
    caller_sink = FrameSink()
    conn = await _dial(authority, listener.address, on_frame=caller_sink)
    try:
        assert conn.peer_id == CALLEE
        assert conn.dialed and conn.initiator == CALLER
        assert conn.kind == "websocket"
        # Each side checked the other's hello with the injected authenticator.
        assert sorted(authority.checked) == sorted([CALLER, CALLEE])
        assert len(accepted) == 1
        server_side = accepted[0]
        assert server_side.peer_id == CALLER and not server_side.dialed
        assert server_side.initiator == CALLER
        assert listener.connections == {server_side}

        await conn.send(PayloadType.RPC_RELIABLE, b"request")
        await callee_sink.wait_for(1)
        assert callee_sink.frames == [(CALLER, PayloadType.RPC_RELIABLE, b"request")]
        # The callee calls back on the same socket.
        await server_side.send(PayloadType.RPC_SIGNAL, b"call back")
        await caller_sink.wait_for(1)
        assert caller_sink.frames == [(CALLEE, PayloadType.RPC_SIGNAL, b"call back")]
        assert conn.sockname == server_side.peername
    finally:
        await conn.close()


async def _raw_hello_then_frame(url: str, hello: bytes) -> aiohttp.WSMessage:
    """Send a hello and, without waiting, an envelope frame; return the first reply."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_bytes(hello)
        await ws.send_bytes(encode_frame(PayloadType.RPC_RELIABLE, b"injected envelope"))
        return await asyncio.wait_for(ws.receive(), 3.0)


async def test_stranger_is_refused_and_its_frames_never_reach_the_handler(
    authority: HmacAuthority, start_listener: ListenerFactory
) -> None:
    listener, sink = await start_listener(CALLEE)
    forged = actr_pb2.AIdCredential(encrypted_token=b"\x00" * 32, token_key_id=1)
    reply = await _raw_hello_then_frame(listener.address, encode_hello(CALLER, forged))
    assert reply.type is aiohttp.WSMsgType.CLOSE
    assert reply.data == 4401
    assert "bad credential" in reply.extra
    await asyncio.sleep(0.1)  # room for a wrongly started reader to deliver
    assert sink.frames == []
    assert listener.connections == frozenset()


async def test_control_a_genuine_peer_sending_the_same_bytes_is_delivered(
    authority: HmacAuthority, start_listener: ListenerFactory
) -> None:
    # Positive control for the test above: the same byte sequence with a valid
    # credential gets our hello back and the frame through.
    listener, sink = await start_listener(CALLEE)
    reply = await _raw_hello_then_frame(
        listener.address, encode_hello(CALLER, authority.credential(CALLER))
    )
    assert reply.type is aiohttp.WSMsgType.BINARY  # the listener's LaneHello
    await sink.wait_for(1)
    assert sink.payloads == [b"injected envelope"]


async def test_refused_dialer_raises_unauthorized(
    authority: HmacAuthority, start_listener: ListenerFactory
) -> None:
    listener, sink = await start_listener(CALLEE)
    stolen = authority.credential(actor(0x99, "someone-else"))
    with pytest.raises(Unauthorized) as info:
        await _dial(authority, listener.address, credential=stolen)
    assert info.value.code == 401
    assert sink.frames == [] and listener.connections == frozenset()


async def test_forbidden_peer_gets_forbidden(
    authority: HmacAuthority, start_listener: ListenerFactory
) -> None:
    listener, _ = await start_listener(CALLEE)
    authority.denied.add(CALLER)
    with pytest.raises(Forbidden) as info:
        await _dial(authority, listener.address)
    assert info.value.code == 403


async def test_wrong_expected_peer_is_refused_by_the_dialer(
    authority: HmacAuthority, start_listener: ListenerFactory
) -> None:
    accepted: list[WebSocketConnection] = []
    listener, _ = await start_listener(CALLEE, on_connection=accepted.append)
    other = actor(0x21, "callee")
    with pytest.raises(Unauthorized) as info:
        await _dial(authority, listener.address, expected_peer=other)
    assert str(CALLEE) in info.value.message and str(other) in info.value.message
    # The listener's side learns the dialer walked away.
    assert len(accepted) == 1
    await asyncio.wait_for(accepted[0].wait_closed(), 3.0)
    assert accepted[0].closed


async def test_dialer_refuses_a_listener_with_a_bad_credential(
    authority: HmacAuthority, start_listener: ListenerFactory
) -> None:
    impostor = HmacAuthority(key=b"another key")
    # The listener presents credentials from a key our authority does not trust.
    listener, _ = await start_listener(
        CALLEE, credential_provider=lambda: impostor.credential(CALLEE)
    )
    with pytest.raises(Unauthorized):
        await _dial(authority, listener.address)


async def test_silent_socket_is_closed_after_the_hello_timeout(
    start_listener: ListenerFactory,
) -> None:
    listener, sink = await start_listener(CALLEE)
    async with aiohttp.ClientSession() as session, session.ws_connect(listener.address) as ws:
        msg = await asyncio.wait_for(ws.receive(), FAST.hello_timeout + 2)
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert msg.data == 4504
    assert sink.frames == []


async def test_text_hello_is_a_protocol_error(start_listener: ListenerFactory) -> None:
    listener, _ = await start_listener(CALLEE)
    async with aiohttp.ClientSession() as session, session.ws_connect(listener.address) as ws:
        await ws.send_str("hello?")
        msg = await asyncio.wait_for(ws.receive(), 3.0)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 4400)


async def test_listener_without_an_identity_yet_refuses_with_unavailable(
    authority: HmacAuthority,
) -> None:
    from actr_py.wire.websocket import WebSocketListener

    listener = WebSocketListener(
        self_id=lambda: None,
        credential_provider=lambda: None,
        authenticate=authority.authenticate,
        on_frame=FrameSink(),
        options=FAST,
    )
    await listener.start()
    try:
        with pytest.raises(Unavailable):
            await _dial(authority, listener.address)
    finally:
        await listener.close()


async def test_nothing_listening_is_unavailable(authority: HmacAuthority) -> None:
    with pytest.raises(Unavailable) as info:
        await _dial(authority, "ws://127.0.0.1:9/actr/ws")
    assert info.value.code == 503


async def test_a_peer_that_never_answers_times_out_as_unavailable(
    authority: HmacAuthority, start_listener: ListenerFactory
) -> None:
    async def stall(_hello: object) -> object:
        await asyncio.sleep(10)
        raise AssertionError("unreachable")

    listener, _ = await start_listener(CALLEE, authenticate=stall)
    with pytest.raises(Unavailable) as info:
        await _dial(authority, listener.address, timeout=0.3)
    assert "0.3" in info.value.message


async def test_listener_close_closes_accepted_connections(
    authority: HmacAuthority, start_listener: ListenerFactory
) -> None:
    listener, _ = await start_listener(CALLEE)
    conn = await _dial(authority, listener.address)
    gone: list[BaseException | None] = []
    conn.add_close_callback(lambda _c, exc: gone.append(exc))
    await listener.close()
    await asyncio.wait_for(conn.wait_closed(), 3.0)
    assert len(gone) == 1 and isinstance(gone[0], Unavailable)
    with pytest.raises(Unavailable):
        await conn.send(PayloadType.RPC_RELIABLE, b"late")
