"""OutboundTrack: what an RTP sender pulls from when the app pushes media.

aiortc's RTCRtpSender loops on ``track.recv()``. A PyAV ``VideoFrame`` or
``AudioFrame`` it gets is encoded with the negotiated codec and packetized
(VP8 payload descriptors, H264 FU-A/STAP-A, Opus as is); an ``av.Packet`` is
already encoded and is only packetized. This track is the queue between
``send_media_sample`` and that loop, in one of two modes fixed by the first
sample:

* **raw** frames: the queue is latency-first (full: the oldest frame goes;
  the encoder simply codes the next one). Frames without ``pts`` are stamped
  from a monotonic clock so the RTP timestamps follow real time.
* **encoded** frames (an ``av.Packet`` or an encoded :class:`MediaSample`,
  e.g. forwarded by a relay): a receiver can only start at a keyframe, and a
  lost frame breaks every frame after it until the next keyframe. So the
  track starts by dropping frames until a keyframe comes, and when its queue
  overflows it flushes and waits for a keyframe again; either way it calls
  ``on_keyframe_needed`` (at most every ``keyframe_interval`` seconds) so the
  source can be asked for one.

``finish()`` ends the track: ``recv()`` raises MediaStreamError, the sender's
loop stops, and aiortc calls ``stop()``, which emits ``"ended"``.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from collections.abc import Callable
from typing import Literal

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av.frame import Frame

from .codecs import CodecSpec, MediaKind, is_keyframe
from .errors import UnsupportedCodec
from .sample import MediaSample, check_track_id

__all__ = ["OutboundTrack", "Pushable"]

#: What ``send_media_sample`` accepts.
Pushable = av.VideoFrame | av.AudioFrame | av.Packet | MediaSample

_Mode = Literal["raw", "encoded"]


class OutboundTrack(MediaStreamTrack):
    """The sending side of one actr media track (one peer, one track id)."""

    def __init__(
        self,
        track_id: str,
        codec: CodecSpec,
        *,
        queue_size: int = 8,
        on_keyframe_needed: Callable[[], None] | None = None,
        keyframe_interval: float = 0.25,
    ) -> None:
        super().__init__()
        self._id = check_track_id(track_id)  # becomes the SDP msid track id
        self.kind = codec.kind.value
        self.codec = codec
        self._queue: deque[Frame | av.Packet] = deque()
        self._queue_size = queue_size
        self._waiter: asyncio.Future[None] | None = None
        self._mode: _Mode | None = None
        self._finished = False
        self._need_keyframe = True
        self._on_keyframe_needed = on_keyframe_needed
        self._keyframe_interval = keyframe_interval
        self._last_keyframe_ask = -1e9
        self._clock_start: float | None = None
        self._resampler: av.AudioResampler | None = None
        self._time_base = fractions.Fraction(1, codec.clock_rate)
        self.pushed = 0
        self.dropped = 0
        self.sent = 0

    @property
    def track_id(self) -> str:
        return self._id

    @property
    def finished(self) -> bool:
        return self._finished or self.readyState == "ended"

    @property
    def mode(self) -> _Mode | None:
        return self._mode

    # ---- producer side -------------------------------------------------------------

    def push(self, sample: Pushable) -> bool:
        """Queue one sample for sending; False when it was dropped (counted)."""
        if self.finished:
            raise MediaStreamError("track ended")
        self.pushed += 1
        if isinstance(sample, (av.VideoFrame, av.AudioFrame)):
            self._set_mode("raw")
            return self._push_raw(sample)
        if isinstance(sample, MediaSample):
            if sample.data is None:
                if sample.frame is None:
                    raise UnsupportedCodec("a MediaSample without frame or data")
                self._set_mode("raw")
                return self._push_raw(sample.frame)
            self._check_codec(sample.codec, sample.kind)
            self._set_mode("encoded")
            packet = av.Packet(sample.data)
            packet.pts = sample.timestamp
            packet.time_base = fractions.Fraction(1, sample.clock_rate)
            return self._push_encoded(packet, sample.keyframe)
        if isinstance(sample, av.Packet):
            self._set_mode("encoded")
            if sample.pts is None or sample.time_base is None:
                sample.pts = self._clock_pts()
                sample.time_base = self._time_base
            return self._push_encoded(sample, is_keyframe(self.codec.name, bytes(sample)))
        raise TypeError(
            f"cannot send a {type(sample).__name__}: use av.VideoFrame, av.AudioFrame, "
            "av.Packet or an encoded MediaSample"
        )

    def expect_keyframe(self) -> None:
        """Drop everything until the next keyframe (the source skipped frames)."""
        if self._mode == "encoded":
            self._queue.clear()
            self._need_keyframe = True
            self._ask_keyframe()

    def finish(self) -> None:
        """End the track once what is queued has been sent."""
        self._finished = True
        self._wake()

    # ---- aiortc side --------------------------------------------------------------------

    async def recv(self) -> Frame | av.Packet:
        while not self._queue:
            if self.finished:
                raise MediaStreamError("track ended")
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        self.sent += 1
        return self._queue.popleft()

    def stop(self) -> None:
        self._finished = True
        self._wake()
        super().stop()

    # ---- internals ----------------------------------------------------------------------

    def _set_mode(self, mode: _Mode) -> None:
        if self._mode is None:
            self._mode = mode
        elif self._mode != mode:
            raise UnsupportedCodec(
                f"track {self._id!r} carries {self._mode} samples; cannot mix in {mode} ones"
            )

    def _check_codec(self, codec: str, kind: MediaKind) -> None:
        if codec.upper() != self.codec.name:
            raise UnsupportedCodec(
                f"track {self._id!r} is {self.codec.name}; an encoded {codec} frame "
                "cannot be forwarded on it (decode it and push the frame instead)"
            )

    def _push_raw(self, frame: av.VideoFrame | av.AudioFrame) -> bool:
        is_video = isinstance(frame, av.VideoFrame)
        if is_video != (self.codec.kind is MediaKind.VIDEO):
            raise UnsupportedCodec(
                f"track {self._id!r} is {self.codec.kind}; got a {type(frame).__name__}"
            )
        if not is_video and not _opus_ready(frame):  # type: ignore[arg-type]
            accepted = True
            for converted in self._convert(frame):  # type: ignore[arg-type]
                accepted = self._push_raw(converted) and accepted
            return accepted
        if frame.pts is None or frame.time_base is None:
            if is_video:
                frame.pts = self._clock_pts()
                frame.time_base = self._time_base
            else:
                frame.pts = self._clock_pts(frame.sample_rate)
                frame.time_base = fractions.Fraction(1, frame.sample_rate)
        dropped = False
        if len(self._queue) >= self._queue_size:
            self._queue.popleft()
            self.dropped += 1
            dropped = True
        self._queue.append(frame)
        self._wake()
        return not dropped

    def _push_encoded(self, packet: av.Packet, keyframe: bool) -> bool:
        if len(self._queue) >= self._queue_size:
            self.dropped += len(self._queue)
            self._queue.clear()
            self._need_keyframe = True
        if self._need_keyframe and not keyframe:
            self.dropped += 1
            self._ask_keyframe()
            return False
        self._need_keyframe = False
        self._queue.append(packet)
        self._wake()
        return True

    def _convert(self, frame: av.AudioFrame) -> list[av.AudioFrame]:
        if self._resampler is None:
            self._resampler = av.AudioResampler(
                format="s16", layout="stereo", rate=frame.sample_rate
            )
        return list(self._resampler.resample(frame))

    def _ask_keyframe(self) -> None:
        now = time.monotonic()
        if self._on_keyframe_needed is not None and (
            now - self._last_keyframe_ask >= self._keyframe_interval
        ):
            self._last_keyframe_ask = now
            self._on_keyframe_needed()

    def _clock_pts(self, rate: int | None = None) -> int:
        now = time.monotonic()
        if self._clock_start is None:
            self._clock_start = now
        return int((now - self._clock_start) * (rate or self.codec.clock_rate))

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)


def _opus_ready(frame: av.AudioFrame) -> bool:
    """aiortc's Opus encoder takes s16 mono or stereo only; others are converted."""
    return frame.format.name == "s16" and frame.layout.name in ("mono", "stereo")
