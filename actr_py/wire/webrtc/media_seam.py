"""The one place where actr_py reaches into aiortc's RTP internals.

Why: forwarding media without decoding it needs three things aiortc has no
public API for.

1. **Encoded frames on the receiving side.** ``RTCRtpReceiver`` depayloads
   each RTP packet and hands it to its jitter buffer; whatever complete frame
   ``JitterBuffer.add`` returns goes to a decoder thread. We replace that
   receiver's jitter buffer (the name-mangled ``_RTCRtpReceiver__jitter_buffer``)
   with a wrapper around the original. The wrapper passes every assembled
   frame to our callback and returns it to aiortc only when the callback asks
   for decoding. Everything else aiortc does per packet stays as it is: RTX
   unwrapping, NACKs, receiver reports, REMB, and a PLI when the jitter buffer
   loses packets. A frame that is not returned is never decoded, so a relay
   that only forwards spends no CPU on decoding.

   aiortc's jitter buffer only knows a frame is complete when the first packet
   of the *next* one arrives (audio: four frames later), which costs a frame
   interval at every hop. The wrapper also completes a frame at its RTP marker
   bit (the last packet of a frame, RFC 3550/7741/6184) when every packet since
   the previous marker is there with the same timestamp, and emits it then;
   the jitter buffer's later copy of that frame is dropped. Anything else (a
   lost or reordered packet, the first frame) waits for the jitter buffer as
   before.
2. **Keyframe requests reaching a forwarding sender.** ``RTCRtpSender``
   answers an RTCP PLI or FIR by calling ``self._send_keyframe()``, which only
   sets a flag for its own encoder. A sender fed with already-encoded packets
   has no encoder to obey it, so we wrap that method on the instance and tell
   the caller, which asks the original publisher.
3. **Sending a PLI upstream** ourselves: ``RTCRtpReceiver._send_rtcp_pli``.

A sender accepts already-encoded data through a documented path: a track
whose ``recv()`` returns an ``av.Packet`` is packetized by the codec's
``Encoder.pack`` (RTP payload descriptors, FU-A, fragmentation) instead of
being encoded. That needs no patch, but :func:`check_supported` verifies it
too because the relay depends on it.

All of this is per instance: no class or module of aiortc is modified, other
peer connections in the process are untouched. :func:`check_supported`
refuses aiortc versions this was not tested with and verifies, by reading
aiortc's source, that each seam is still used the way this module assumes;
``tests/media/test_seam.py`` runs it and exercises every seam on real peer
connections, so an aiortc upgrade that moves any of them fails loudly.
"""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import aiortc
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import RtpPacket

from ...errors import ConfigError
from .versions import require_tested

__all__ = [
    "TESTED_AIORTC",
    "EncodedFrameSink",
    "check_supported",
    "hook_keyframe_requests",
    "send_pli",
    "tap_receiver",
]

logger = logging.getLogger(__name__)

#: aiortc (major, minor) versions whose RTP internals this module knows.
TESTED_AIORTC: frozenset[tuple[int, int]] = frozenset({(1, 16)})

_JITTER_ATTR = "_RTCRtpReceiver__jitter_buffer"
_KEPT = 1024  # packets remembered for marker-bit completion
_WRAP = 1 << 32
_EMITTED = 64
_TAPPED = "_actr_py_media_tap"
_HOOKED = "_actr_py_keyframe_hook"


class EncodedFrameSink(Protocol):
    """Receives each assembled frame; returns True to let aiortc decode it too."""

    def __call__(self, payload_type: int, ssrc: int, data: bytes, rtp_timestamp: int) -> bool: ...


class _TapJitterBuffer:
    """Stands in for a receiver's JitterBuffer; only ``add`` is ever called on it."""

    __slots__ = ("_emitted", "_inner", "_last_marker", "_newest", "_open", "_packets", "_sink")

    def __init__(self, inner: JitterBuffer, sink: EncodedFrameSink) -> None:
        self._inner = inner
        self._sink = sink
        #: Recent packets by sequence number (insertion order: oldest first).
        self._packets: dict[int, RtpPacket] = {}
        self._last_marker: int | None = None
        #: (timestamp, first seq, marker seq) of a frame whose marker came, not yet emitted.
        self._open: tuple[int, int, int] | None = None
        #: Timestamps of frames emitted at their marker (the jitter buffer's copy is dropped).
        self._emitted: deque[int] = deque(maxlen=_EMITTED)
        #: Timestamp of the newest frame emitted either way: never go back before it.
        self._newest: int | None = None

    @property
    def capacity(self) -> int:
        return self._inner.capacity

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        pli, frame = self._inner.add(packet)
        if frame is not None and (
            frame.timestamp in self._emitted or self._older(frame.timestamp)
        ):
            frame = None  # already emitted at its marker, or older than one that was
        # One frame per call (aiortc decodes what is returned): when the jitter
        # buffer just released one, a frame this packet completes waits for it.
        early = self._complete(packet, emit=frame is None)
        if frame is not None:
            return pli, self._deliver(packet, frame)
        if early is not None:
            return pli, self._deliver(packet, early)
        return pli, None

    def _older(self, timestamp: int) -> bool:
        newest = self._newest
        return newest is not None and (timestamp - newest) % _WRAP >= _WRAP // 2

    def _deliver(self, packet: RtpPacket, frame: JitterFrame) -> JitterFrame | None:
        self._newest = frame.timestamp
        try:
            decode = self._sink(packet.payload_type, packet.ssrc, frame.data, frame.timestamp)
        except Exception:  # never let an exception into aiortc's packet path
            logger.exception("encoded frame sink failed")
            decode = False
        return frame if decode else None

    def _complete(self, packet: RtpPacket, *, emit: bool) -> JitterFrame | None:
        """Remember ``packet``; return the frame it completes (judged by marker
        bits) if ``emit``, else None."""
        packets = self._packets
        seq = packet.sequence_number
        packets[seq] = packet
        if len(packets) > _KEPT:
            del packets[next(iter(packets))]
        if packet.marker:
            first = self._last_marker
            self._last_marker = seq
            if first is not None:
                self._open = (packet.timestamp, (first + 1) & 0xFFFF, seq)
        current = self._open
        if not emit or current is None or packet.timestamp != current[0]:
            return None
        timestamp, first, last = current
        count = ((last - first) & 0xFFFF) + 1
        if count > _KEPT:
            self._open = None
            return None
        parts = []
        for i in range(count):
            part = packets.get((first + i) & 0xFFFF)
            if part is None or part.timestamp != timestamp:
                return None  # not all there yet
            parts.append(part._data)  # type: ignore[attr-defined]  # set by the receiver
        self._open = None
        self._emitted.append(timestamp)
        return JitterFrame(data=b"".join(parts), timestamp=timestamp)


def _source(fn: Any) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return ""


def check_supported(version: str | None = None) -> None:
    """Raise ConfigError unless every seam is known to work with this aiortc."""
    found = version if version is not None else getattr(aiortc, "__version__", "?")
    require_tested("media", "aiortc", found, TESTED_AIORTC, "actr_py/wire/webrtc/media_seam.py")
    problems = []
    handle_rtp = _source(RTCRtpReceiver._handle_rtp_packet)
    if "self.__jitter_buffer.add(packet)" not in handle_rtp:
        problems.append("RTCRtpReceiver._handle_rtp_packet no longer feeds self.__jitter_buffer")
    if "packet._data = depayload(" not in handle_rtp:
        problems.append("RTCRtpReceiver no longer stores the depayloaded data on the packet")
    if "encoded_frame is not None" not in handle_rtp:
        problems.append("RTCRtpReceiver no longer skips decoding when no frame is returned")
    if "self.__jitter_buffer = JitterBuffer(" not in _source(RTCRtpReceiver.__init__):
        problems.append("RTCRtpReceiver.__init__ no longer builds self.__jitter_buffer")
    if not callable(getattr(RTCRtpReceiver, "_send_rtcp_pli", None)):
        problems.append("RTCRtpReceiver._send_rtcp_pli is gone")
    if "self._send_keyframe()" not in _source(RTCRtpSender._handle_rtcp_packet):
        problems.append("RTCRtpSender no longer answers PLI/FIR through self._send_keyframe()")
    if ".pack(data)" not in _source(RTCRtpSender._next_encoded_frame):
        problems.append("RTCRtpSender no longer packs pre-encoded av.Packet data")
    if problems:
        raise ConfigError(
            f"media: aiortc {found} changed its RTP internals: " + "; ".join(problems)
        )


def tap_receiver(receiver: RTCRtpReceiver, sink: EncodedFrameSink) -> None:
    """Send every frame ``receiver`` assembles to ``sink`` before any decoding.

    Call before the first packet arrives (in the peer connection's ``track``
    event). Tapping a receiver twice is refused: there is one sink per track.
    """
    if getattr(receiver, _TAPPED, False):
        raise ValueError("this RTCRtpReceiver is already tapped")
    inner = getattr(receiver, _JITTER_ATTR, None)
    if not isinstance(inner, JitterBuffer):
        raise ConfigError("media: RTCRtpReceiver has no jitter buffer where expected")
    setattr(receiver, _JITTER_ATTR, _TapJitterBuffer(inner, sink))
    setattr(receiver, _TAPPED, True)


def hook_keyframe_requests(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever the remote receiver asks ``sender`` for a keyframe.

    aiortc's own handling (force the encoder's next frame to be a keyframe)
    still runs first, so raw-frame tracks keep working as before.
    """
    if getattr(sender, _HOOKED, False):
        raise ValueError("this RTCRtpSender's keyframe requests are already hooked")
    original = sender._send_keyframe

    def send_keyframe() -> None:
        original()
        try:
            callback()
        except Exception:  # called from aiortc's RTCP reader
            logger.exception("keyframe request callback failed")

    sender._send_keyframe = send_keyframe  # type: ignore[method-assign]
    setattr(sender, _HOOKED, True)


async def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Ask the sender of ``media_ssrc`` for a keyframe (RTCP PLI, RFC 4585)."""
    await receiver._send_rtcp_pli(media_ssrc)
