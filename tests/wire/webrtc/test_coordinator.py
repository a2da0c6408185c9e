"""WebRtcCoordinator: roles, the wire pool, trickle buffering, death, restart, plain peers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from actr_py.errors import InvalidId, PayloadTooLarge, StateError, Unavailable
from actr_py.payload_type import PayloadType
from actr_py.proto import webrtc_pb2
from actr_py.wire.webrtc import WebRtcConnection

from ._support import ALICE, BOB, FAST, Node, PlainPeer, RelayHub, blackhole, kind_of, wait_until

RPC = PayloadType.RPC_RELIABLE


@pytest.fixture
async def hub() -> AsyncIterator[RelayHub]:
    hub = RelayHub()
    yield hub
    await hub.close()


@pytest.fixture
async def nodes(hub: RelayHub) -> AsyncIterator[tuple[Node, Node]]:
    alice, bob = Node(ALICE, hub), Node(BOB, hub, echo=True)
    yield alice, bob
    await alice.close()
    await bob.close()


async def echo_once(node: Node, conn: WebRtcConnection, payload: bytes = b"\x0aping") -> None:
    before = len(node.frames)
    await conn.send(RPC, payload)
    frames = await node.wait_frames(before + 1)
    assert frames[before] == (RPC, payload)


def offers_by(hub: RelayHub) -> list[Any]:
    return [source for source, _, kind in hub.log if kind in ("OFFER", "ICE_RESTART_OFFER")]


# ---- roles ----------------------------------------------------------------------


@pytest.mark.parametrize("roles", ["arbitrate", "forward", "silent"])
async def test_both_sides_connecting_at_once_make_one_connection(roles: str) -> None:
    hub = RelayHub(roles=roles)  # type: ignore[arg-type]
    alice, bob = Node(ALICE, hub), Node(BOB, hub)
    try:
        a_conn, b_conn = await asyncio.gather(
            alice.coordinator.connect(BOB), bob.coordinator.connect(ALICE)
        )
        assert alice.announced == [a_conn] and bob.announced == [b_conn]
        assert a_conn.offerer and not b_conn.offerer  # the smaller id offered
        assert offers_by(hub) == [ALICE]
        assert hub.sent(kind="ANSWER") == ["ANSWER"]
        await b_conn.send(RPC, b"\x0afrom bob")
        assert (await alice.wait_frames(1))[0] == (RPC, b"\x0afrom bob")
        assert alice.coordinator.connections == [a_conn]
        assert bob.coordinator.connections == [b_conn]
    finally:
        await alice.close()
        await bob.close()
        await hub.close()


async def test_server_assignment_is_obeyed_over_the_local_rule() -> None:
    hub = RelayHub(roles="inverted")
    alice, bob = Node(ALICE, hub), Node(BOB, hub, echo=True)
    try:
        conn = await alice.coordinator.connect(BOB)
        assert offers_by(hub) == [BOB] and not conn.offerer
        await echo_once(alice, conn)
    finally:
        await alice.close()
        await bob.close()
        await hub.close()


async def test_without_role_assignment_the_local_rule_decides() -> None:
    hub = RelayHub(roles="silent")
    alice, bob = Node(ALICE, hub), Node(BOB, hub, echo=True)
    try:
        conn = await alice.coordinator.connect(BOB)
        assert hub.sent(ALICE, "RoleNegotiation") and offers_by(hub) == [ALICE]
        await wait_until(lambda: bob.announced)  # the answerer may be ready a turn later
        assert conn.offerer and len(bob.announced) == 1
        await echo_once(alice, conn)
    finally:
        await alice.close()
        await bob.close()
        await hub.close()


async def test_forwarding_server_lets_the_peer_apply_the_rule() -> None:
    # Bob (larger) asks; Alice gets his RoleNegotiation and offers at once.
    hub = RelayHub(roles="forward")
    alice, bob = Node(ALICE, hub, echo=True), Node(BOB, hub)
    try:
        conn = await bob.coordinator.connect(ALICE)
        assert offers_by(hub) == [ALICE] and not conn.offerer
        await echo_once(bob, conn)
    finally:
        await alice.close()
        await bob.close()
        await hub.close()


async def test_connect_deadline_raises_unavailable() -> None:
    # Bob must answer by the rule but nobody ever offers: the deadline fires.
    hub = RelayHub(roles="silent")
    config = replace(FAST, connect_timeout=1.0, role_timeout=0.2)
    alice, bob = Node(ALICE, hub, config=config), Node(BOB, hub, config=config)
    try:
        with pytest.raises(Unavailable, match=r"not established within 1\.0s") as info:
            await bob.coordinator.connect(ALICE)
        assert info.value.code == 503 and info.value.retryable
        assert bob.coordinator.connection(ALICE) is None
        assert len(hub.sent(BOB, "RoleNegotiation")) >= 2  # it kept asking
        # A caller's own shorter timeout is honoured too.
        with pytest.raises(Unavailable, match=r"within 0\.1s"):
            await bob.coordinator.connect(ALICE, timeout=0.1)
    finally:
        await alice.close()
        await bob.close()
        await hub.close()


# ---- the pool -------------------------------------------------------------------


async def test_concurrent_first_sends_share_one_attempt(
    hub: RelayHub, nodes: tuple[Node, Node]
) -> None:
    alice, _ = nodes
    conns = await asyncio.gather(*(alice.coordinator.connect(BOB) for _ in range(8)))
    assert all(c is conns[0] for c in conns)
    assert offers_by(hub) == [ALICE] and len(alice.announced) == 1
    assert await alice.coordinator.connect(BOB) is conns[0]  # cached


async def test_inbound_offer_creates_and_announces_the_answering_side(
    nodes: tuple[Node, Node],
) -> None:
    alice, bob = nodes
    conn = await alice.coordinator.connect(BOB)
    await wait_until(lambda: bob.announced)
    (inbound,) = bob.announced
    assert inbound.peer_id == ALICE and inbound.ready and not inbound.offerer
    assert bob.coordinator.connection(ALICE) is inbound
    await echo_once(alice, conn)


async def test_closed_connection_is_dropped_and_rebuilt(nodes: tuple[Node, Node]) -> None:
    alice, bob = nodes
    first = await alice.coordinator.connect(BOB)
    await first.close("test")
    assert alice.coordinator.connection(BOB) is None
    await wait_until(lambda: bob.coordinator.connection(ALICE) is None)
    second = await alice.coordinator.connect(BOB)
    assert second is not first and second.ready
    await echo_once(alice, second)
    assert len(alice.announced) == 2


async def test_misuse_is_refused(nodes: tuple[Node, Node]) -> None:
    alice, _ = nodes
    with pytest.raises(InvalidId):
        await alice.coordinator.connect(ALICE)
    await alice.coordinator.close()
    with pytest.raises(StateError):
        await alice.coordinator.connect(BOB)


# ---- trickle --------------------------------------------------------------------

_CANDIDATE_LINE = re.compile(r"^a=(candidate:.*|end-of-candidates)\r?\n", re.MULTILINE)


def strip_candidates(msg: webrtc_pb2.SessionDescription) -> webrtc_pb2.SessionDescription:
    return webrtc_pb2.SessionDescription(type=msg.type, sdp=_CANDIDATE_LINE.sub("", msg.sdp))


@pytest.mark.parametrize("deliver_alice_candidates", [True, False])
async def test_candidates_arriving_before_the_offer_are_buffered(
    deliver_alice_candidates: bool,
) -> None:
    """Only Bob can start ICE checks here, and only from Alice's trickled candidates.

    Both SDPs lose their candidates; Bob's trickle is dropped, so Alice knows
    nothing of Bob. Alice's offer is held back until her candidates and
    end-of-candidates have reached Bob, who must buffer and apply them after
    the offer. The control run without Alice's candidates must fail.
    """
    hub = RelayHub()
    config = replace(FAST, connect_timeout=2.5 if not deliver_alice_candidates else 6.0)
    alice, bob = Node(ALICE, hub, config=config), Node(BOB, hub, config=config, echo=True)
    held: list[Any] = []

    def intercept(source: Any, target: Any, payload: Any) -> list[Any] | None:
        kind = kind_of(payload)
        if isinstance(payload, webrtc_pb2.SessionDescription):
            payload = strip_candidates(payload)
            if kind == "OFFER":
                held.append(payload)
                return []
            return [payload]
        if isinstance(payload, webrtc_pb2.IceCandidate):
            if source == BOB:
                return []  # Alice learns nothing about Bob
            if not deliver_alice_candidates:
                return [] if kind == "CANDIDATE" else held  # the offer alone
            if kind == "END_OF_CANDIDATES":
                return [payload, *held]  # the offer only now, behind the candidates
        return None

    hub.intercept = intercept
    try:
        if deliver_alice_candidates:
            conn = await alice.coordinator.connect(BOB)
            await echo_once(alice, conn)
            inbound = bob.coordinator.connection(ALICE)
            assert inbound is not None
            negotiator = bob.coordinator._peers[ALICE].negotiators[inbound]
            assert negotiator.applied_candidates >= 2  # candidate + end-of-candidates
        else:
            with pytest.raises(Unavailable):
                await alice.coordinator.connect(BOB)
    finally:
        await alice.close()
        await bob.close()
        await hub.close()


async def test_stale_candidates_of_another_session_are_dropped(nodes: tuple[Node, Node]) -> None:
    alice, bob = nodes
    stale = webrtc_pb2.IceCandidate(
        candidate="candidate:1 1 udp 2130706431 127.0.0.1 9 typ host",
        sdp_mid="0",
        sdp_mline_index=0,
        username_fragment="oldsession",
    )
    await bob.coordinator.handle_relay(ALICE, stale)  # no attempt yet: kept as early
    conn = await alice.coordinator.connect(BOB)
    await echo_once(alice, conn)
    inbound = bob.coordinator.connection(ALICE)
    assert inbound is not None
    assert bob.coordinator._peers[ALICE].negotiators[inbound].dropped_candidates == 1


# ---- failure detection, reconnect, restart ------------------------------------------


async def test_dead_peer_is_detected_by_heartbeat_and_reconnect_works(
    nodes: tuple[Node, Node],
) -> None:
    alice, bob = nodes
    conn = await alice.coordinator.connect(BOB)
    await echo_once(alice, conn)
    closed: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
    conn.add_close_callback(lambda c, exc: closed.done() or closed.set_result(exc))
    remote = bob.coordinator.connection(ALICE)
    assert remote is not None

    blackhole(remote)  # Bob's host vanishes: no goodbye, no abort, nothing
    exc = await asyncio.wait_for(closed, 8)  # heartbeat_timeout is 1.5s in FAST
    assert isinstance(exc, Unavailable) and exc.code == 503
    assert "silent" in exc.message
    assert alice.coordinator.connection(BOB) is None
    with pytest.raises(Unavailable):
        await conn.send(RPC, b"\x0alost")
    await wait_until(lambda: remote.closed)  # Bob's side concluded the same

    again = await alice.coordinator.connect(BOB)
    assert again is not conn
    await echo_once(alice, again, b"\x0aback")


@pytest.mark.parametrize("who", ["offerer", "answerer"])
async def test_restart_rebuilds_make_before_break(
    hub: RelayHub, nodes: tuple[Node, Node], who: str
) -> None:
    alice, bob = nodes
    old = await alice.coordinator.connect(BOB)
    await wait_until(lambda: bob.coordinator.connection(ALICE) is not None)
    old_remote = bob.coordinator.connection(ALICE)
    if who == "offerer":
        new = await alice.coordinator.restart(BOB)
    else:
        await bob.coordinator.restart(ALICE)
        await wait_until(lambda: alice.coordinator.connection(BOB) is not old)
        new = alice.coordinator.connection(BOB)
        assert new is not None
    assert "ICE_RESTART_OFFER" in hub.sent(kind="ICE_RESTART_OFFER")
    assert new is not old and new.ready
    await wait_until(lambda: old.closed and old_remote is not None and old_remote.closed)
    assert bob.coordinator.connection(ALICE) is not old_remote
    assert len(alice.announced) == 2 and len(bob.announced) == 2
    await echo_once(alice, new, b"\x0aover the new path")


# ---- plain actr peers -------------------------------------------------------------


async def test_plain_peer_offering_interoperates(hub: RelayHub) -> None:
    plain = PlainPeer(ALICE, hub)
    bob = Node(BOB, hub)
    try:
        await plain.offer(BOB)
        await wait_until(lambda: bob.announced)
        (conn,) = bob.announced
        assert conn.mode == "plain"
        frames = [b"\x0a\x03abc", b"\x01not protobuf", b"\x0a" + b"z" * 60_000]
        for frame in frames:
            await conn.send(RPC, frame)  # rides the plain peer's own channel
        await conn.send(PayloadType.STREAM_RELIABLE, b"\x12stream")  # we open this lane
        got = await bob.wait_frames(len(frames) + 1)
        assert sorted(got) == sorted(
            [(RPC, f) for f in frames] + [(PayloadType.STREAM_RELIABLE, b"\x12stream")]
        )
        # One protobuf per DataChannel message, byte for byte: no header, no escape.
        assert [m for label, m in plain.received if label == "RPC_RELIABLE"] == frames
        with pytest.raises(PayloadTooLarge, match="plain actr peer"):
            await conn.send(RPC, b"\x0a" * (conn.max_unfragmented + 1))
    finally:
        await bob.close()
        await plain.close()


async def test_plain_peer_answering_interoperates(hub: RelayHub) -> None:
    alice = Node(ALICE, hub)
    plain = PlainPeer(BOB, hub)
    try:
        conn = await alice.coordinator.connect(BOB)
        assert conn.mode == "plain" and conn.offerer  # no HELLO came back
        assert "actr-py.control" in plain.labels_seen  # offered, ignored
        for pt in (RPC, PayloadType.RPC_SIGNAL, PayloadType.STREAM_LATENCY_FIRST):
            await conn.send(pt, b"\x0a\x02hi")
        got = await alice.wait_frames(3)
        assert sorted(got) == sorted(
            (pt, b"\x0a\x02hi")
            for pt in (RPC, PayloadType.RPC_SIGNAL, PayloadType.STREAM_LATENCY_FIRST)
        )
        assert all(m == b"\x0a\x02hi" for _, m in plain.received)
        assert conn._heartbeat is None  # a plain peer answers no PING
    finally:
        await alice.close()
        await plain.close()


async def test_trickle_sends_every_candidate_then_end_of_candidates(hub: RelayHub) -> None:
    seen: list[tuple[Any, Any]] = []

    def record(source: Any, target: Any, payload: Any) -> None:
        seen.append((source, payload))

    hub.intercept = record  # observe only
    alice, bob = Node(ALICE, hub), Node(BOB, hub, echo=True)
    try:
        conn = await alice.coordinator.connect(BOB)
        await echo_once(alice, conn)
        for side, description in (
            (ALICE, conn.peer_connection.localDescription),
            (BOB, conn.peer_connection.remoteDescription),
        ):
            trickled = [p for s, p in seen if s == side and isinstance(p, webrtc_pb2.IceCandidate)]
            kinds = [kind_of(p) for p in trickled]
            assert kinds[-1] == "END_OF_CANDIDATES" and kinds.count("END_OF_CANDIDATES") == 1
            assert kinds[:-1] and set(kinds[:-1]) == {"CANDIDATE"}
            ufrag = re.search(r"a=ice-ufrag:(\S+)", description.sdp)
            assert ufrag is not None
            assert {p.username_fragment for p in trickled} == {ufrag.group(1)}
            assert all(p.sdp_mid == "0" and p.sdp_mline_index == 0 for p in trickled)
            assert all(" 127.0.0.1 " in p.candidate for p in trickled if p.candidate)
    finally:
        await alice.close()
        await bob.close()
