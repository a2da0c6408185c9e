"""WebSocketPool: one lane per peer, shared, reused both ways, tie-broken, healed."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from actr_py.errors import Unauthorized, Unavailable
from actr_py.ids import ActorId
from actr_py.payload_type import PayloadType
from actr_py.proto import package_pb2
from actr_py.wire.websocket import WebSocketConnection, WebSocketListener, WebSocketPool

from ._support import FAST, FrameSink, HmacAuthority, actor

ROOT = Path(__file__).resolve().parents[3]
RPC = PayloadType.RPC_RELIABLE


class Node:
    """A pool plus its listener and frame sink: the wire half of one node."""

    def __init__(self, authority: HmacAuthority, actor_id: ActorId, **pool_kwargs: object) -> None:
        self.id = actor_id
        self.sink = FrameSink()
        self.accepted: list[WebSocketConnection] = []
        self._kwargs: dict[str, object] = {
            "self_id": actor_id,
            "credential_provider": lambda: authority.credential(actor_id),
            "authenticate": authority.authenticate,
            "on_frame": self.sink,
            "options": FAST,
        }
        self._kwargs.update(pool_kwargs)
        self.pool = WebSocketPool(connect_timeout=3.0, **self._kwargs)  # type: ignore[arg-type]
        self.listener: WebSocketListener | None = None

    async def listen(self) -> str:
        """Listen like ``pool.create_listener()``, also counting accepted sockets."""

        def spy(conn: WebSocketConnection) -> None:
            self.accepted.append(conn)
            self.pool.register(conn)

        self.listener = WebSocketListener(
            on_connection=spy,
            admit=self.pool.admit,
            **self._kwargs,  # type: ignore[arg-type]
        )
        await self.listener.start()
        return self.listener.address

    async def close(self) -> None:
        await self.pool.close()
        if self.listener is not None:
            await self.listener.close()


NodeFactory = Callable[..., Awaitable[Node]]


@pytest.fixture
async def make_node(authority: HmacAuthority) -> AsyncIterator[NodeFactory]:
    nodes: list[Node] = []

    async def factory(actor_id: ActorId, listen: bool = True, **kwargs: object) -> Node:
        node = Node(authority, actor_id, **kwargs)
        nodes.append(node)
        if listen:
            await node.listen()
        return node

    yield factory
    for node in nodes:
        await node.close()


def _url(node: Node) -> str:
    assert node.listener is not None
    return node.listener.address


async def test_concurrent_gets_share_one_connection(make_node: NodeFactory) -> None:
    a = await make_node(actor(1, "a"), listen=False)
    b = await make_node(actor(2, "b"))
    conns = await asyncio.gather(*(a.pool.get(b.id, _url(b)) for _ in range(50)))
    assert len({id(c) for c in conns}) == 1
    assert len(b.accepted) == 1
    assert a.pool.connections == {b.id: conns[0]}
    # Reuse after the fact, too.
    assert await a.pool.get(b.id, _url(b)) is conns[0]
    assert len(b.accepted) == 1


async def test_accepted_lane_serves_the_reverse_direction(make_node: NodeFactory) -> None:
    a = await make_node(actor(1, "a"), listen=False)
    b = await make_node(actor(2, "b"))
    forward = await a.pool.get(b.id, _url(b))
    await forward.send(RPC, b"request")
    await b.sink.wait_for(1)
    # B reaches A over the socket A opened: an unreachable URL proves no dial.
    back = await b.pool.get(a.id, "ws://127.0.0.1:9/nowhere")
    assert back is b.accepted[0]
    await back.send(RPC, b"callback")
    await a.sink.wait_for(1)
    assert a.sink.frames == [(b.id, RPC, b"callback")]


async def test_closed_lane_is_evicted_and_the_next_get_reconnects(make_node: NodeFactory) -> None:
    a = await make_node(actor(1, "a"), listen=False)
    b = await make_node(actor(2, "b"))
    first = await a.pool.get(b.id, _url(b))
    await b.accepted[0].close("bye")
    await asyncio.wait_for(first.wait_closed(), 3.0)
    assert a.pool.peek(b.id) is None
    second = await a.pool.get(b.id, _url(b))
    assert second is not first and second.usable
    await second.send(RPC, b"again")
    await b.sink.wait_for(1)
    assert len(b.accepted) == 2


async def test_a_fresh_dial_from_a_restarted_peer_replaces_its_stale_lane(
    make_node: NodeFactory,
) -> None:
    # The same actor id dials again from a new pool (a restarted node whose old
    # socket is not yet known dead here): its newer lane takes over.
    old = await make_node(actor(1, "a"), listen=False)
    b = await make_node(actor(2, "b"))
    stale = await old.pool.get(b.id, _url(b))
    stale_gone = asyncio.get_running_loop().create_future()
    stale.add_close_callback(lambda _c, exc: stale_gone.set_result(exc))
    new = await make_node(actor(1, "a"), listen=False)
    fresh = await new.pool.get(b.id, _url(b))
    assert isinstance(await asyncio.wait_for(stale_gone, 3.0), Unavailable)
    assert b.pool.peek(new.id) is b.accepted[1]
    await b.pool.peek(new.id).send(RPC, b"to the new one")  # type: ignore[union-attr]
    await new.sink.wait_for(1)
    assert fresh.usable and old.sink.frames == []


async def test_failed_dial_is_not_cached(make_node: NodeFactory, authority: HmacAuthority) -> None:
    a = await make_node(actor(1, "a"), listen=False)
    b = await make_node(actor(2, "b"))
    impostor_id = actor(3, "b")
    with pytest.raises(Unauthorized):
        await a.pool.get(impostor_id, _url(b))  # B answers, but it is not who we asked for
    assert a.pool.peek(impostor_id) is None
    assert (await a.pool.get(b.id, _url(b))).usable


def _slow_authenticate(authority: HmacAuthority) -> Callable[..., Awaitable[ActorId]]:
    async def slow(hello: package_pb2.LaneHello) -> ActorId:
        # Keeps both handshakes in flight together, so each listener sees the
        # other's dial: the race the tie-break exists for.
        await asyncio.sleep(0.05)
        return await authority.authenticate(hello)

    return slow


@pytest.mark.parametrize("overlap", [True, False], ids=["forced-overlap", "free-race"])
async def test_simultaneous_dials_end_with_one_lane_opened_by_the_smaller_id(
    make_node: NodeFactory,
    authority: HmacAuthority,
    overlap: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="actr_py.wire.websocket.listener")
    extra = {"authenticate": _slow_authenticate(authority)} if overlap else {}
    for round_ in range(4):
        # Alternate which side holds the smaller id.
        small, large = actor(10 + round_, "x"), actor(20 + round_, "y")
        first, second = (small, large) if round_ % 2 else (large, small)
        x = await make_node(first, **extra)
        y = await make_node(second, **extra)
        cx, cy = await asyncio.gather(x.pool.get(y.id, _url(y)), y.pool.get(x.id, _url(x)))
        # One lane per side, and it is the same TCP connection.
        assert x.pool.connections == {y.id: cx}
        assert y.pool.connections == {x.id: cy}
        assert cx.sockname == cy.peername and cx.peername == cy.sockname
        assert cx.initiator == cy.initiator == min(x.id, y.id)
        registered = len(x.accepted) + len(y.accepted)
        assert registered == 1, f"round {round_}: {registered} lanes were admitted"
        # It carries traffic both ways and stays the only one.
        await cx.send(RPC, b"from x")
        await cy.send(RPC, b"from y")
        await asyncio.gather(x.sink.wait_for(1), y.sink.wait_for(1))
        assert await x.pool.get(y.id, _url(y)) is cx
        assert await y.pool.get(x.id, _url(x)) is cy
        await x.close()
        await y.close()
    conflicts = [r for r in caplog.records if "(409)" in r.getMessage()]
    if overlap:
        # Each round really raced: the smaller side refused the larger's dial.
        assert len(conflicts) == 4, [r.getMessage() for r in caplog.records]


async def test_pool_close_closes_lanes_and_refuses_new_gets(make_node: NodeFactory) -> None:
    a = await make_node(actor(1, "a"), listen=False)
    b = await make_node(actor(2, "b"))
    conn = await a.pool.get(b.id, _url(b))
    await a.pool.close()
    assert conn.closed
    with pytest.raises(Unavailable):
        await a.pool.get(b.id, _url(b))
    await asyncio.wait_for(b.accepted[0].wait_closed(), 3.0)
    assert b.pool.peek(a.id) is None


# ---- a peer in another process --------------------------------------------------------


class Child:
    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc = proc
        self.url = url


@pytest.fixture
async def spawn_peer() -> AsyncIterator[Callable[[int], Awaitable[Child]]]:
    children: list[Child] = []

    async def spawn(serial: int) -> Child:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.wire.websocket.peer_process",
            "--serial",
            str(serial),
            "--heartbeat",
            str(FAST.heartbeat_interval),
            "--dead-after",
            str(FAST.dead_peer_timeout),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        child = Child(proc, line.decode().strip())
        children.append(child)
        assert child.url.startswith("ws://127.0.0.1:"), child.url
        return child

    yield spawn
    for child in children:
        if child.proc.returncode is None:
            child.proc.send_signal(signal.SIGCONT)
            child.proc.kill()
            await child.proc.wait()


def _close_future(conn: WebSocketConnection) -> asyncio.Future[BaseException | None]:
    fut: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
    conn.add_close_callback(lambda _c, exc: fut.set_result(exc))
    return fut


async def _round_trip(node: Node, conn: WebSocketConnection, data: bytes) -> None:
    before = len(node.sink.frames)
    await conn.send(RPC, data)
    await node.sink.wait_for(before + 1, timeout=5)
    assert node.sink.payloads[-1] == b"echo:" + data


@pytest.mark.slow
async def test_killed_peer_process_is_reported_and_the_pool_reconnects(
    make_node: NodeFactory, spawn_peer: Callable[[int], Awaitable[Child]]
) -> None:
    remote = actor(0x77, "remote")
    local = await make_node(actor(0x11, "local"), listen=False)
    child = await spawn_peer(remote.serial)
    conn = await local.pool.get(remote, child.url)
    await _round_trip(local, conn, b"one")
    gone = _close_future(conn)
    child.proc.kill()  # SIGKILL: no goodbye from the peer process
    exc = await asyncio.wait_for(gone, 5.0)
    assert isinstance(exc, Unavailable) and exc.code == 503
    assert local.pool.peek(remote) is None
    with pytest.raises(Unavailable):
        await conn.send(RPC, b"lost")
    # The same actor comes back elsewhere: the next get opens a fresh lane.
    again = await spawn_peer(remote.serial)
    conn2 = await local.pool.get(remote, again.url)
    assert conn2 is not conn
    await _round_trip(local, conn2, b"two")


@pytest.mark.slow
async def test_frozen_peer_is_declared_dead_by_the_heartbeat(
    make_node: NodeFactory, spawn_peer: Callable[[int], Awaitable[Child]]
) -> None:
    # SIGSTOP keeps the peer's socket open in the kernel: only the lane's own
    # liveness check can notice that nobody answers any more.
    remote = actor(0x78, "remote")
    local = await make_node(actor(0x12, "local"), listen=False)
    child = await spawn_peer(remote.serial)
    conn = await local.pool.get(remote, child.url)
    await _round_trip(local, conn, b"alive")
    gone = _close_future(conn)
    child.proc.send_signal(signal.SIGSTOP)
    exc = await asyncio.wait_for(gone, FAST.dead_peer_timeout + 3.0)
    assert isinstance(exc, Unavailable)
    assert "no sign of life" in exc.message
    assert local.pool.peek(remote) is None
