"""Tracks added to live connections: RENEGOTIATION_OFFER, the floor, glare, plain peers.

Two real WebRtcCoordinators (aiortc on 127.0.0.1) talking through the
in-memory relay of tests/wire/webrtc, which keeps per-target order like the
signaling server's WebSocket and lets a test watch or drop what travels.
"""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import AsyncIterator
from typing import Any

import av
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from actr_py.errors import Unavailable
from actr_py.media import MediaFrameRegistry, MediaKind, MediaManager
from actr_py.proto import webrtc_pb2
from actr_py.wire.webrtc import WebRtcConnection
from actr_py.wire.webrtc.media_floor import FLOOR_LABEL
from actr_py.wire.webrtc.media_sdp import negotiated_codecs
from tests.wire.webrtc._support import ALICE, BOB, Node, PlainPeer, RelayHub, wait_until

from ._support import Collector

pytestmark = pytest.mark.slow


class Counter(MediaStreamTrack):
    """A track of tiny video frames whose id is the actr track id."""

    kind = "video"

    def __init__(self, track_id: str) -> None:
        super().__init__()
        self._id = track_id
        self.n = 0

    async def recv(self) -> av.VideoFrame:
        await asyncio.sleep(1 / 50)
        frame = av.VideoFrame(64, 48, "yuv420p")
        frame.pts = self.n * 1800
        frame.time_base = fractions.Fraction(1, 90000)
        self.n += 1
        return frame


class Received:
    """Every remote track a peer connection announces, with its frame count."""

    def __init__(self, pc: RTCPeerConnection) -> None:
        self.frames: dict[str, int] = {}
        self.tasks: list[asyncio.Task[None]] = []
        pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self.frames[track.id] = 0

        async def read() -> None:
            while True:
                try:
                    await track.recv()
                except MediaStreamError:
                    return
                self.frames[track.id] += 1

        self.tasks.append(asyncio.ensure_future(read()))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def add(track_id: str):
    def prepare(pc: RTCPeerConnection) -> None:
        pc.addTransceiver(Counter(track_id), direction="sendonly")

    return prepare


@pytest.fixture
async def hub() -> AsyncIterator[RelayHub]:
    hub = RelayHub()
    yield hub
    await hub.close()


@pytest.fixture
async def pair(hub: RelayHub) -> AsyncIterator[tuple[Node, Node, WebRtcConnection]]:
    alice, bob = Node(ALICE, hub), Node(BOB, hub)
    conn = await alice.coordinator.connect(BOB)
    assert conn.offerer  # ALICE < BOB: alice conducts this connection
    yield alice, bob, conn
    await alice.close()
    await bob.close()


async def test_conductor_adds_a_track_to_a_live_connection(hub: RelayHub, pair) -> None:
    alice, bob, conn = pair
    remote = bob.coordinator.connection(ALICE)
    assert remote is not None
    got = Received(remote.peer_connection)
    try:
        trickled = len(hub.sent(kind="CANDIDATE"))
        assert await alice.coordinator.renegotiate(BOB, add("cam")) is conn
        assert hub.sent(ALICE, "RENEGOTIATION_OFFER") == ["RENEGOTIATION_OFFER"]
        # No new ICE session: the track rides the DataChannels' transport.
        assert len(hub.sent(kind="CANDIDATE")) == trickled
        await wait_until(lambda: got.frames.get("cam", 0) >= 5)
        (transceiver,) = remote.peer_connection.getTransceivers()
        codecs = negotiated_codecs(remote.peer_connection.remoteDescription.sdp, transceiver.mid)
        assert codecs[96].name == "VP8" and codecs[97].name == "RTX"
        assert codecs[102].name == "H264" and codecs[103].name == "RTX"
        assert remote.ready and conn.ready  # the DataChannel lanes are untouched
    finally:
        await got.close()


async def test_non_conductor_asks_for_the_floor_first(hub: RelayHub, pair) -> None:
    alice, bob, conn = pair
    got = Received(conn.peer_connection)
    try:
        await bob.coordinator.renegotiate(ALICE, add("mic-less-cam"))
        assert hub.sent(BOB, "RENEGOTIATION_OFFER") == ["RENEGOTIATION_OFFER"]
        assert alice.coordinator._peers[BOB].floors[conn].grants == 1
        labels = {c.label for c in conn.peer_connection.sctp._data_channels.values()}
        assert FLOOR_LABEL in labels
        await wait_until(lambda: got.frames.get("mic-less-cam", 0) >= 5)
    finally:
        await got.close()


async def test_both_sides_adding_tracks_at_once_do_not_collide(hub: RelayHub, pair) -> None:
    alice, bob, conn = pair
    remote = bob.coordinator.connection(ALICE)
    assert remote is not None
    at_alice, at_bob = Received(conn.peer_connection), Received(remote.peer_connection)
    try:
        for _ in range(3):  # several rounds, each racing both sides
            n = len(at_bob.frames)
            await asyncio.gather(
                alice.coordinator.renegotiate(BOB, add(f"a{n}")),
                bob.coordinator.renegotiate(ALICE, add(f"b{n}")),
            )
        await wait_until(lambda: len(at_bob.frames) == 3 and len(at_alice.frames) == 3)
        await wait_until(
            lambda: min(at_bob.frames.values()) >= 3 and min(at_alice.frames.values()) >= 3
        )
        assert sorted(at_bob.frames) == ["a0", "a1", "a2"]
        assert sorted(at_alice.frames) == ["b0", "b1", "b2"]
        for pc in (conn.peer_connection, remote.peer_connection):
            assert pc.signalingState == "stable"
            directions = sorted(t.currentDirection for t in pc.getTransceivers())
            assert directions == ["recvonly"] * 3 + ["sendonly"] * 3
    finally:
        await at_alice.close()
        await at_bob.close()


async def test_plain_peer_is_offered_to_directly(hub: RelayHub) -> None:
    alice, plain = Node(ALICE, hub), PlainPeer(BOB, hub)
    got = Received(plain.pc)
    try:
        conn = await alice.coordinator.connect(BOB)
        assert conn.mode == "plain"
        await alice.coordinator.renegotiate(BOB, add("for-a-browser"))
        await wait_until(lambda: got.frames.get("for-a-browser", 0) >= 5)
        assert FLOOR_LABEL not in plain.labels_seen
    finally:
        await got.close()
        await alice.close()
        await plain.close()


async def test_unanswered_renegotiation_fails_the_connection(hub: RelayHub, pair) -> None:
    alice, _bob, conn = pair

    def drop_answers(source: Any, target: Any, payload: Any) -> list[Any] | None:
        if isinstance(payload, webrtc_pb2.SessionDescription) and payload.type == 1:
            return []
        return None

    hub.intercept = drop_answers
    alice.coordinator.config = alice.coordinator.config.__class__(
        **{**_fields(alice.coordinator.config), "connect_timeout": 1.0}
    )
    with pytest.raises(Unavailable, match="did not answer a renegotiation"):
        await alice.coordinator.renegotiate(BOB, add("lost"))
    assert conn.closed
    hub.intercept = None
    fresh = await alice.coordinator.connect(BOB)  # rebuilt on demand
    assert fresh is not conn and fresh.ready


async def test_renegotiation_needs_a_live_connection(hub: RelayHub) -> None:
    alice = Node(ALICE, hub)
    try:
        with pytest.raises(Unavailable, match="no live webrtc connection"):
            await alice.coordinator.renegotiate(BOB, add("nobody"))
    finally:
        await alice.close()


def _fields(config: Any) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


async def test_media_in_a_plain_peers_first_offer_is_received(hub: RelayHub) -> None:
    """A browser may offer its camera with the connection itself: not lost."""
    plain, bob = PlainPeer(ALICE, hub), Node(BOB, hub)
    registry = MediaFrameRegistry()
    got = Collector()
    registry.register("browser-cam", got)
    manager = MediaManager(registry, lambda: bob.coordinator)
    try:
        plain.pc.addTransceiver(Counter("browser-cam"), direction="sendonly")
        await plain.offer(BOB)  # aiortc's own payload types: VP8 is not on 96 here
        await wait_until(lambda: bob.announced)
        manager.attach(bob.announced[0])
        samples = await got.wait(5)
        assert {(s.track_id, s.kind, s.codec) for s in samples} == {
            ("browser-cam", MediaKind.VIDEO, "VP8")
        }
        assert set(got.senders) == {ALICE}
    finally:
        await manager.close()
        await registry.close()
        await bob.close()
        await plain.close()
