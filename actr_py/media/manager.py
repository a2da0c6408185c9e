"""MediaManager: a node's media tracks, over its WebRTC peer connections.

Outbound. ``add_track(peer, track_id, kind, codec)`` connects to the peer
(or reuses the connection its DataChannels ride), then renegotiates it: in
the coordinator's ``prepare`` step, while this side holds the floor, it adds
a send-only transceiver whose sender pulls from an :class:`OutboundTrack`
(or from an aiortc track the caller supplies) and restricts the codec
preferences to the one codec asked for; ``RENEGOTIATION_OFFER`` goes out
through the signaling relay and the answer comes back. The answer is then
checked: the peer must have accepted exactly that codec. ``send_sample``
pushes frames or encoded packets into the track; ``remove_track`` ends it
(the sender's RTCP BYE ends the peer's track at once) and renegotiates the
m-line to ``inactive`` so a browser sees it end too.

Inbound. Every connection is attached when it becomes ready; its ``track``
events (fired while the peer's renegotiation offer is applied, before any
packet can arrive) become :class:`InboundTrack` s feeding the
MediaFrameRegistry.

Keyframes. A registration made after a track started, a sample dropped on
the way to a slow callback, and ``request_keyframe`` all send the sender a
PLI. An outbound track's ``on_keyframe_request`` fires when its peer sends
us a PLI/FIR or when it is waiting for a keyframe to (re)start: a relay uses
it to ask the publisher.

Lifetime. Tracks live on one peer connection. When it is lost, inbound
tracks end (TrackEnded with the reason) and outbound ones end too:
``send_sample`` raises Unavailable and ``on_ended`` is called; add the track
again once the peer is back. A rebuilt connection starts without tracks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpTransceiver

from ..errors import ActrError, ConfigError, StateError, Unavailable
from ..ids import ActorId
from ..wire.base import WireConnection
from ..wire.webrtc import WebRtcConnection, WebRtcCoordinator
from ..wire.webrtc.media_sdp import negotiated_codecs
from ..wire.webrtc.media_seam import check_supported, hook_keyframe_requests
from .codecs import CodecSpec, MediaKind, codec_spec
from .errors import TrackExists, UnknownTrack, UnsupportedCodec
from .inbound import InboundTrack
from .outbound import OutboundTrack, Pushable
from .registry import MediaFrameRegistry
from .sample import check_track_id

__all__ = ["MediaManager", "OnEnded"]

log = logging.getLogger("actr_py.media")

#: Told why an outbound track ended (removed, connection lost, node stopping).
OnEnded = Callable[[str], None]


@dataclass(eq=False)
class _Outbound:
    peer_id: ActorId
    track_id: str
    codec: CodecSpec
    track: MediaStreamTrack
    conn: WebRtcConnection
    on_keyframe_request: Callable[[], None] | None
    on_ended: OnEnded | None
    transceiver: RTCRtpTransceiver | None = None
    ended: str | None = None
    keyframe_requests: int = field(default=0)

    def keyframe_requested(self) -> None:
        self.keyframe_requests += 1
        if self.on_keyframe_request is not None and self.ended is None:
            self.on_keyframe_request()

    def end(self, reason: str) -> None:
        if self.ended is not None:
            return
        self.ended = reason
        if isinstance(self.track, OutboundTrack):
            self.track.finish()
        if self.on_ended is not None:
            try:
                self.on_ended(reason)
            except Exception:
                log.exception("on_ended callback of track %s failed", self.track_id)


class MediaManager:
    """Media tracks of one node; ``webrtc`` gives its coordinator (None: no WebRTC)."""

    def __init__(
        self,
        registry: MediaFrameRegistry,
        webrtc: Callable[[], WebRtcCoordinator | None],
        *,
        keyframe_interval: float = 0.25,
    ) -> None:
        self.registry = registry
        self._webrtc = webrtc
        self._keyframe_interval = keyframe_interval
        self._out: dict[tuple[ActorId, str], _Outbound] = {}
        self._in: dict[tuple[ActorId, str], InboundTrack] = {}
        self._by_conn: dict[WebRtcConnection, list[InboundTrack]] = {}
        self._checked = False
        self._seam_warned = False
        self._closed = False
        registry.on_register = self._on_register
        registry.on_drop = lambda sender, track_id: self.request_keyframe(sender, track_id)

    # ---- outbound ---------------------------------------------------------------------

    async def add_track(
        self,
        peer: ActorId,
        track_id: str,
        kind: MediaKind | str,
        codec: str,
        *,
        source: MediaStreamTrack | None = None,
        on_keyframe_request: Callable[[], None] | None = None,
        on_ended: OnEnded | None = None,
    ) -> None:
        """Start sending track ``track_id`` to ``peer``; returns once negotiated.

        Without ``source`` the track is fed by :meth:`send_sample`; with one
        (any aiortc MediaStreamTrack: a MediaPlayer's, a MediaRelay proxy),
        the sender pulls from it directly and its id becomes ``track_id``.
        """
        self._check_open()
        check_track_id(track_id)
        spec = codec_spec(codec, kind)
        coordinator = self._coordinator()
        key = (peer, track_id)
        existing = self._out.get(key)
        if existing is not None and existing.ended is None:
            raise TrackExists(f"track {track_id!r} to {peer} already exists")
        if source is not None:
            if source.kind != spec.kind.value:
                raise UnsupportedCodec(
                    f"source is a {source.kind} track; {spec.name} is {spec.kind}"
                )
            source._id = track_id  # the SDP msid carries it to the peer
        conn = await coordinator.connect(peer)
        track = source or OutboundTrack(
            track_id,
            spec,
            on_keyframe_needed=lambda: record.keyframe_requested(),
            keyframe_interval=self._keyframe_interval,
        )
        record = _Outbound(peer, track_id, spec, track, conn, on_keyframe_request, on_ended)
        self._out[key] = record

        def prepare(pc: RTCPeerConnection) -> None:
            transceiver = pc.addTransceiver(record.track, direction="sendonly")
            transceiver.setCodecPreferences(spec.preferences())
            hook_keyframe_requests(transceiver.sender, record.keyframe_requested)
            record.transceiver = transceiver

        try:
            await coordinator.renegotiate(peer, prepare)
            self._check_answer(record)
        except BaseException as exc:
            if self._out.get(key) is record:
                del self._out[key]
            record.end(f"negotiation failed: {exc}")
            raise
        record.track.on("ended", lambda: record.end("the sender stopped"))
        if conn.closed:
            record.end("connection lost")

    async def remove_track(self, peer: ActorId, track_id: str) -> None:
        """Stop sending ``track_id`` to ``peer``; the peer sees its track end."""
        record = self._out.pop((peer, track_id), None)
        if record is None:
            raise UnknownTrack(f"no track {track_id!r} to {peer}")
        record.end("removed by the sender")
        transceiver = record.transceiver
        if transceiver is None or record.conn.closed:
            return
        await transceiver.sender.stop()  # RTCP BYE: an aiortc peer ends the track now

        def inactive(_pc: RTCPeerConnection) -> None:
            transceiver.direction = "inactive"

        coordinator = self._webrtc()
        if coordinator is not None:
            try:
                await coordinator.renegotiate(peer, inactive)
            except ActrError as exc:
                log.info("track %s to %s removed; renegotiation failed: %s", track_id, peer, exc)

    def send_sample(self, peer: ActorId, track_id: str, sample: Pushable) -> bool:
        """Queue one frame/packet on an outbound track; False when it was dropped."""
        record = self._out.get((peer, track_id))
        if record is None:
            raise UnknownTrack(f"no track {track_id!r} to {peer}: add_media_track first")
        if record.ended is not None:
            raise Unavailable(f"track {track_id!r} to {peer} ended: {record.ended}")
        track = record.track
        if not isinstance(track, OutboundTrack):
            raise StateError(f"track {track_id!r} to {peer} is fed by its own source")
        return track.push(sample)

    def outbound(self, peer: ActorId, track_id: str) -> OutboundTrack | None:
        record = self._out.get((peer, track_id))
        track = record.track if record is not None else None
        return track if isinstance(track, OutboundTrack) else None

    # ---- inbound ----------------------------------------------------------------------

    def attach(self, conn: WireConnection) -> None:
        """Watch a new WebRTC connection for the tracks its peer sends."""
        if self._closed or not isinstance(conn, WebRtcConnection):
            return
        try:
            self._check_seam()
        except ConfigError as exc:  # DataChannels still work; media cannot
            if not self._seam_warned:
                self._seam_warned = True
                log.warning("media disabled on this node: %s", exc.message)
            return
        pc = conn.peer_connection
        self._by_conn[conn] = []
        pc.on("track", lambda track: self._on_track(conn, track))
        conn.add_close_callback(self._on_closed)
        # A peer other than actr_py (a browser) may send media in its first
        # offer, whose track events fired before the connection was announced.
        for transceiver in pc.getTransceivers():
            if transceiver.receiver.track is not None:
                self._on_track(conn, transceiver.receiver.track)

    def request_keyframe(self, peer: ActorId, track_id: str) -> bool:
        """Ask ``peer`` for a keyframe on the track it sends us as ``track_id``."""
        inbound = self._in.get((peer, track_id))
        return inbound.request_keyframe() if inbound is not None else False

    def inbound(self, peer: ActorId, track_id: str) -> InboundTrack | None:
        return self._in.get((peer, track_id))

    # ---- lifecycle --------------------------------------------------------------------

    async def close(self) -> None:
        """End every track (the node is stopping)."""
        if self._closed:
            return
        self._closed = True
        for record in list(self._out.values()):
            record.end("node stopping")
        self._out.clear()
        inbound = list(self._in.values())
        for track in inbound:
            track.end("node stopping")
        self._in.clear()
        await asyncio.gather(*(t.aclose() for t in inbound), return_exceptions=True)

    # ---- internals --------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StateError("media manager is closed")

    def _check_seam(self) -> None:
        if not self._checked:
            check_supported()
            self._checked = True

    def _coordinator(self) -> WebRtcCoordinator:
        coordinator = self._webrtc()
        if coordinator is None:
            raise StateError(
                "media tracks ride WebRTC: this node needs a signaling_url and WebRTC enabled"
            )
        self._check_seam()
        return coordinator

    def _check_answer(self, record: _Outbound) -> None:
        transceiver = record.transceiver
        description = record.conn.peer_connection.remoteDescription
        if transceiver is None or transceiver.mid is None or description is None:
            raise Unavailable(f"track {record.track_id!r} was not negotiated")
        codecs = [
            c for c in negotiated_codecs(description.sdp, transceiver.mid).values()
            if c.name != "RTX"
        ]
        if not codecs or codecs[0].name != record.codec.name:
            got = codecs[0].name if codecs else "nothing"
            raise UnsupportedCodec(
                f"{record.peer_id} answered track {record.track_id!r} with {got}, "
                f"not {record.codec.name}"
            )

    def _on_track(self, conn: WebRtcConnection, track: MediaStreamTrack) -> None:
        pc = conn.peer_connection
        transceiver = next(
            (t for t in pc.getTransceivers() if t.receiver.track is track), None
        )
        if transceiver is None or self._closed:
            return
        inbound = InboundTrack(
            peer_id=conn.peer_id,
            track=track,
            pc=pc,
            transceiver=transceiver,
            registry=self.registry,
            keyframe_interval=self._keyframe_interval,
        )
        key = (conn.peer_id, inbound.track_id)
        old = self._in.get(key)
        if old is not None and not old.ended:
            old.end(f"{conn.peer_id} replaced it with a new track of the same id")
        self._in[key] = inbound
        self._by_conn.setdefault(conn, []).append(inbound)
        try:
            inbound.start()
        except Exception:
            log.exception("track %s from %s cannot be received", inbound.track_id, conn.peer_id)
            inbound.end("cannot be received")
        log.debug("track %s (%s) from %s", inbound.track_id, inbound.kind, conn.peer_id)

    def _on_closed(self, conn: WireConnection, exc: BaseException | None) -> None:
        assert isinstance(conn, WebRtcConnection)
        detail = exc.message if isinstance(exc, ActrError) else "closed"
        reason = f"connection to {conn.peer_id} lost: {detail}"
        for inbound in self._by_conn.pop(conn, []):
            inbound.end(reason)
            if self._in.get((inbound.peer_id, inbound.track_id)) is inbound:
                del self._in[(inbound.peer_id, inbound.track_id)]
            task = asyncio.get_running_loop().create_task(inbound.aclose())
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)
        for record in list(self._out.values()):
            if record.conn is conn:
                record.end(reason)

    def _on_register(self, track_id: str) -> None:
        for (_peer, tid), inbound in self._in.items():
            if tid == track_id:
                inbound.request_keyframe()
