"""InboundTrack: one RTP track received from a peer, fed to the registry.

Identity. The track's actr id is the ``msid`` track id its sender announced
in the SDP (aiortc names the RemoteStreamTrack after it; see
:mod:`actr_py.wire.webrtc.media_sdp`), its kind the m-line's, and its codec
the one the negotiated description gives for the payload type the frames
actually arrive with, looked up when the first frame comes (the SDP is
applied by then).

Frames. The receiver is tapped (:mod:`actr_py.wire.webrtc.media_seam`): every
frame the jitter buffer assembles comes here encoded, before any decoding.
Per frame the registry says what the track's registration wants: encoded
samples are delivered from the tap; decoded ones by handing the frame on to
aiortc's decoder thread, whose output this track's reader task delivers. A
frame nobody wants decoded is never decoded.

Time. ``timestamp`` is the RTP timestamp unwrapped past 2**32 and counted
from the first frame this node received on the track. A decoded frame gets
the timestamp (and keyframe flag) of the encoded frame it came from: the tap
remembers what it handed to the decoder, in order, and the reader matches
each decoded frame to it (aiortc's decoder counts from the first frame *it*
was given and its time base rounding can be off by one tick), so decoded and
encoded samples of one track share one exact clock.

End. The reader sees aiortc end the track (RTCP BYE from the sender, or the
peer connection closing); the media manager ends it first, with a better
reason, when the connection is lost. Either way exactly one TrackEnded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamError

from ..ids import ActorId
from ..wire.webrtc.media_sdp import NegotiatedCodec, negotiated_codecs
from ..wire.webrtc.media_seam import send_pli, tap_receiver
from .codecs import MediaKind, is_keyframe
from .registry import MediaFrameRegistry
from .sample import MediaSample, TrackEnded

__all__ = ["InboundTrack"]

log = logging.getLogger("actr_py.media")

_WRAP = 1 << 32


class InboundTrack:
    """A track ``peer_id`` sends us, delivered under ``track_id``."""

    def __init__(
        self,
        *,
        peer_id: ActorId,
        track: MediaStreamTrack,
        pc: RTCPeerConnection,
        transceiver: RTCRtpTransceiver,
        registry: MediaFrameRegistry,
        keyframe_interval: float = 0.25,
    ) -> None:
        self.peer_id = peer_id
        self.track_id = track.id
        self.kind = MediaKind(transceiver.kind)
        self._track = track
        self._pc = pc
        self._transceiver = transceiver
        self._registry = registry
        self._keyframe_interval = keyframe_interval
        self._codecs: dict[int, NegotiatedCodec] = {}
        self._codec: NegotiatedCodec | None = None
        self._ssrc: int | None = None
        self._last_rtp: int | None = None
        self._elapsed = 0
        self._decode_origin: int | None = None
        #: (timestamp, keyframe) of frames handed to aiortc's decoder, oldest first.
        self._decoding: deque[tuple[int, bool]] = deque(maxlen=256)
        self._encoded_seq = 0
        self._decoded_seq = 0
        self._last_pli = -1e9
        self._ended = False
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.frames = 0
        self.keyframe_requests = 0

    @property
    def codec(self) -> str | None:
        """The codec frames arrive with (None before the first frame)."""
        return self._codec.name if self._codec is not None else None

    @property
    def ended(self) -> bool:
        return self._ended

    def start(self) -> None:
        """Tap the receiver and start reading; call in the ``track`` event."""
        tap_receiver(self._transceiver.receiver, self._on_frame)
        self._reader = asyncio.get_running_loop().create_task(
            self._read(), name=f"actr-media-in-{self.track_id}"
        )

    def request_keyframe(self) -> bool:
        """Send the sender a PLI, at most every ``keyframe_interval``.

        False when that is not possible yet (no packet seen) or any more.
        """
        now = time.monotonic()
        if self._ended or self._ssrc is None:
            return False
        if now - self._last_pli < self._keyframe_interval:
            return True
        self._last_pli = now
        self.keyframe_requests += 1
        task = asyncio.get_running_loop().create_task(
            send_pli(self._transceiver.receiver, self._ssrc)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def end(self, reason: str) -> None:
        """Deliver the one TrackEnded of this track (later calls do nothing)."""
        if self._ended:
            return
        self._ended = True
        self._registry.end(
            self.peer_id, TrackEnded(self.track_id, self.kind, self.codec, reason)
        )
        reader = self._reader
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()

    async def aclose(self) -> None:
        tasks = [t for t in (self._reader, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ---- frames -------------------------------------------------------------------

    def _on_frame(self, payload_type: int, ssrc: int, data: bytes, rtp_timestamp: int) -> bool:
        """The tap: one encoded frame; returns whether aiortc should decode it."""
        if self._ended:
            return False
        self._ssrc = ssrc
        codec = self._codecs.get(payload_type) or self._lookup(payload_type)
        self._codec = codec
        timestamp = self._unwrap(rtp_timestamp)
        self.frames += 1
        mode = self._registry.mode(self.track_id)
        if mode is None:
            self._registry.stats.unregistered += 1
            return False
        keyframe = codec is not None and is_keyframe(codec.name, data)
        if mode != "decoded" and codec is not None:
            self._registry.deliver(
                self.peer_id,
                MediaSample(
                    track_id=self.track_id,
                    kind=self.kind,
                    codec=codec.name,
                    timestamp=timestamp,
                    clock_rate=codec.clock_rate,
                    sequence=self._encoded_seq,
                    data=data,
                    keyframe=keyframe,
                ),
            )
            self._encoded_seq += 1
        if mode == "encoded":
            return False
        if self._decode_origin is None:
            self._decode_origin = timestamp
        self._decoding.append((timestamp, keyframe))
        return True

    def _source_of(self, decoded_pts: int | None, clock_rate: int) -> tuple[int, bool]:
        """Timestamp and keyframe flag of the encoded frame a decoded one came from."""
        approx = (decoded_pts or 0) + (self._decode_origin or 0)
        slack = max(1, clock_rate // 100)
        pending = self._decoding
        while pending and pending[0][0] < approx - slack:
            pending.popleft()  # the decoder failed on it: no frame came out
        if pending and abs(pending[0][0] - approx) <= slack:
            return pending.popleft()
        return approx, False

    def _lookup(self, payload_type: int) -> NegotiatedCodec | None:
        description = self._pc.remoteDescription
        mid = self._transceiver.mid
        if description is None or mid is None:
            return None
        self._codecs = negotiated_codecs(description.sdp, mid)
        codec = self._codecs.get(payload_type)
        if codec is None:
            log.warning(
                "track %s from %s: payload type %d is not in the negotiated description",
                self.track_id, self.peer_id, payload_type,
            )
        return codec

    def _unwrap(self, rtp_timestamp: int) -> int:
        last = self._last_rtp
        self._last_rtp = rtp_timestamp
        if last is None:
            return 0
        delta = (rtp_timestamp - last) % _WRAP
        if delta >= _WRAP // 2:  # an older frame (reordered): step back
            delta -= _WRAP
        self._elapsed += delta
        return self._elapsed

    async def _read(self) -> None:
        track = self._track
        registry = self._registry
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                self.end(f"{self.peer_id} ended the track")
                return
            codec = self._codec
            if codec is None or self._ended:
                continue
            timestamp, keyframe = self._source_of(frame.pts, codec.clock_rate)
            registry.deliver(
                self.peer_id,
                MediaSample(
                    track_id=self.track_id,
                    kind=self.kind,
                    codec=codec.name,
                    timestamp=timestamp,
                    clock_rate=codec.clock_rate,
                    sequence=self._decoded_seq,
                    frame=frame,
                    keyframe=keyframe,
                ),
            )
            self._decoded_seq += 1
