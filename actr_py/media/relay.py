"""Fan one published track out to many subscribers, forwarding it as encoded.

Why forward: a relay that decodes and re-encodes (aiortc's ``MediaRelay`` in
front of one encoder per subscriber) spends a video encoder's CPU on every
subscriber and adds a generation of coding loss. When the subscriber takes
the publisher's codec there is no reason to: :class:`TrackRelay` registers
the source track in ``"encoded"`` mode, so each frame the receiver's jitter
buffer assembles reaches it undecoded (:mod:`actr_py.wire.webrtc.media_seam`),
and pushes that same frame into one :class:`~.outbound.OutboundTrack` per
subscriber, which aiortc only packetizes. Nothing is decoded.

Keyframes. A subscriber can only start decoding on a keyframe, and a
publisher's encoder makes one on request only. So an added subscriber's
track drops frames until a keyframe comes and, meanwhile, asks for one; a
subscriber's own PLI/FIR (it lost packets, its decoder failed) arrives at
our sender and is passed on too. Every request becomes an RTCP PLI to the
publisher (rate-limited per track). When frames of the source went missing
before us (a sequence gap: our callback fell behind) every forwarded track
waits for the next keyframe, which is requested at once.

Fallback. A subscriber asking for another codec (``mode="auto"``), or every
subscriber with ``mode="transcode"``, gets a re-encoded track: the source is
then also decoded (registration mode ``"both"``), the frames go through
aiortc's ``MediaRelay`` (one decoded source, a proxy per subscriber) and
each subscriber's sender encodes its own. That is also exactly the baseline
``benchmarks/bench_media.py`` measures forwarding against.

Life. Subscribers join and leave at any time. One that leaves
(:meth:`TrackRelay.unsubscribe`) or whose connection is lost is dropped;
the others never notice. When the publisher's track ends (it removed it, it
died), every subscriber's track is removed, so their callbacks see the end;
subscribers stay subscribed and get a new track when a publisher sends
again. :class:`MediaRelayWorkload` is the same as an actor: publishers
send it the track, subscribers call ``actr.media.Relay.Subscribe``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import av
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

from ..errors import ActrError, StateError
from ..ids import ActorId
from ..runtime.workload import Workload, handler
from .codecs import MediaKind, codec_spec
from .errors import UnsupportedCodec
from .sample import MediaEvent, MediaSample, TrackEnded, check_track_id

if TYPE_CHECKING:
    from ..runtime.context import Context

__all__ = ["MediaRelayWorkload", "RelayMode", "RelayStats", "TrackRelay"]

log = logging.getLogger("actr_py.media.relay")

RelayMode = Literal["auto", "forward", "transcode"]


@dataclass
class RelayStats:
    #: Encoded frames of the source that reached the relay.
    received: int = 0
    #: Frames handed to subscribers' forwarding tracks (one per subscriber).
    forwarded: int = 0
    #: Decoded frames fed to the re-encoding path.
    decoded: int = 0
    #: Sequence gaps in the source (frames lost before the relay saw them).
    gaps: int = 0
    keyframe_requests: int = 0
    #: Samples from another sender of the same track id (ignored).
    foreign: int = 0
    source_ends: int = 0
    joined: int = 0
    left: int = 0


@dataclass(eq=False)
class _Subscriber:
    peer: ActorId
    codec: str | None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    live: bool = False
    forwarding: bool = False


class _DecodedSource(MediaStreamTrack):
    """The source's decoded frames, as an aiortc track for MediaRelay (latest wins)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._frames: deque[av.VideoFrame | av.AudioFrame] = deque(maxlen=4)
        self._waiter: asyncio.Future[None] | None = None

    def push(self, frame: av.VideoFrame | av.AudioFrame) -> None:
        self._frames.append(frame)
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def recv(self) -> av.VideoFrame | av.AudioFrame:
        while not self._frames:
            if self.readyState != "live":
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._frames.popleft()

    def stop(self) -> None:
        super().stop()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class TrackRelay:
    """Relays the track ``source_track_id`` it receives to every subscriber as
    ``out_track_id`` (the same id by default)."""

    def __init__(
        self,
        source_track_id: str,
        *,
        out_track_id: str | None = None,
        mode: RelayMode = "auto",
    ) -> None:
        if mode not in ("auto", "forward", "transcode"):
            raise ValueError(f"relay mode must be auto, forward or transcode, got {mode!r}")
        self.source_track_id = check_track_id(source_track_id)
        self.out_track_id = check_track_id(out_track_id or source_track_id)
        self.mode = mode
        self.stats = RelayStats()
        self._ctx: Context | None = None
        self._source: ActorId | None = None
        self._kind: MediaKind | None = None
        self._codec: str | None = None
        self._last_seq: int | None = None
        self._subs: dict[ActorId, _Subscriber] = {}
        self._decoded: _DecodedSource | None = None
        self._media_relay: MediaRelay | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- public ------------------------------------------------------------------

    @property
    def source(self) -> ActorId | None:
        """Who publishes the track now (None before the first frame, after its end)."""
        return self._source

    @property
    def codec(self) -> str | None:
        return self._codec

    def subscribers(self) -> dict[ActorId, str]:
        """Subscriber -> "forward", "transcode" or "waiting" (no source yet)."""
        return {
            peer: ("forward" if s.forwarding else "transcode") if s.live else "waiting"
            for peer, s in self._subs.items()
        }

    async def start(self, ctx: Context) -> None:
        """Receive the source track (encoded) on the node of ``ctx``."""
        if self._ctx is not None:
            raise StateError("relay already started")
        self._ctx = ctx
        ctx.register_media_track(self.source_track_id, self._on_event, mode="encoded")

    async def stop(self) -> None:
        """Remove every subscriber's track and stop receiving the source."""
        ctx = self._ctx
        if ctx is None:
            return
        for sub in list(self._subs.values()):
            await self._detach(sub)
        self._subs.clear()
        ctx.unregister_media_track(self.source_track_id)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._decoded is not None:
            self._decoded.stop()
        self._ctx = None

    async def subscribe(self, peer: ActorId, *, codec: str | None = None) -> str:
        """Send the track to ``peer`` (as ``codec``: the source's by default).

        Returns the track id the subscriber receives. With a live source this
        returns once the subscriber's track is negotiated; otherwise the track
        follows when the source starts.
        """
        ctx = self._require_ctx()
        if codec is not None:
            codec = codec_spec(codec).name
            if self.mode == "forward" and self._codec is not None and codec != self._codec:
                raise UnsupportedCodec(
                    f"this relay only forwards {self._codec}; {codec} needs transcoding"
                )
        sub = self._subs.get(peer)
        if sub is None:
            sub = self._subs[peer] = _Subscriber(peer, codec)
            self.stats.joined += 1
        if self._source is not None:
            await self._attach(ctx, sub)
        return self.out_track_id

    async def unsubscribe(self, peer: ActorId) -> bool:
        sub = self._subs.pop(peer, None)
        if sub is None:
            return False
        self.stats.left += 1
        await self._detach(sub)
        return True

    # ---- subscribers -----------------------------------------------------------

    def _require_ctx(self) -> Context:
        if self._ctx is None:
            raise StateError("relay not started")
        return self._ctx

    def _forwards(self, sub: _Subscriber) -> bool:
        if self.mode == "transcode":
            return False
        wanted = sub.codec or self._codec
        if wanted == self._codec:
            return True
        if self.mode == "forward":
            raise UnsupportedCodec(f"relay forwards {self._codec} only; {sub.peer} wants {wanted}")
        return False

    async def _attach(self, ctx: Context, sub: _Subscriber) -> None:
        async with sub.lock:
            if sub.live or self._source is None or self._subs.get(sub.peer) is not sub:
                return
            kind, codec = self._kind, sub.codec or self._codec
            assert kind is not None and codec is not None
            forward = self._forwards(sub)
            source = None if forward else self._transcoder(kind).subscribe(
                self._decoded, buffered=False
            )
            sub.forwarding = forward
            sub.live = True  # before the await: frames may flow as soon as it is negotiated
            try:
                await ctx.add_media_track(
                    sub.peer, self.out_track_id, kind, codec, source=source,
                    on_keyframe_request=self._want_keyframe,
                    on_ended=lambda reason: self._lost(sub, reason),
                )
            except BaseException:
                sub.live = False
                if source is not None:
                    source.stop()
                self._update_decoding()
                raise
            self._update_decoding()
            if forward:
                self._want_keyframe()
            log.info("%s subscribed to %s (%s %s)", sub.peer, self.out_track_id,
                     "forwarding" if forward else "transcoding to", codec)

    async def _detach(self, sub: _Subscriber) -> None:
        async with sub.lock:
            if not sub.live:
                return
            sub.live = False  # first: this removal must not read as a lost subscriber
            self._update_decoding()
            ctx = self._ctx
            if ctx is None:
                return
            try:
                await ctx.remove_media_track(sub.peer, self.out_track_id)
            except ActrError as exc:
                log.debug("track to %s already gone: %s", sub.peer, exc)

    def _lost(self, sub: _Subscriber, reason: str) -> None:
        """A subscriber's track ended without us removing it: drop the subscriber."""
        if not sub.live:
            return
        sub.live = False
        if self._subs.get(sub.peer) is sub:
            del self._subs[sub.peer]
            self.stats.left += 1
        self._update_decoding()
        log.info("subscriber %s dropped: %s", sub.peer, reason)

    # ---- source ------------------------------------------------------------------

    async def _on_event(self, event: MediaEvent, sender: ActorId) -> None:
        if isinstance(event, TrackEnded):
            if sender == self._source:
                await self._source_ended(event)
            return
        if self._source is None:
            self._adopt_source(sender, event)
        elif sender != self._source:
            self.stats.foreign += 1
            return
        if event.encoded:
            self._forward(event)
        elif event.frame is not None and self._decoded is not None:
            self.stats.decoded += 1
            self._decoded.push(event.frame)

    def _adopt_source(self, sender: ActorId, sample: MediaSample) -> None:
        self._source, self._kind, self._codec = sender, sample.kind, sample.codec
        self._last_seq = None
        ctx = self._require_ctx()
        log.info("relay source %s: %s %s from %s", self.source_track_id, sample.kind,
                 sample.codec, sender)
        for sub in list(self._subs.values()):
            self._spawn(self._attach(ctx, sub))

    def _forward(self, sample: MediaSample) -> None:
        self.stats.received += 1
        gap = self._last_seq is not None and sample.sequence != self._last_seq + 1
        self._last_seq = sample.sequence
        ctx = self._require_ctx()
        manager = ctx.media
        if gap:
            self.stats.gaps += 1
        for sub in self._subs.values():
            if not (sub.live and sub.forwarding):
                continue
            if gap:
                track = manager.outbound(sub.peer, self.out_track_id)
                if track is not None:
                    track.expect_keyframe()
            try:
                if manager.send_sample(sub.peer, self.out_track_id, sample):
                    self.stats.forwarded += 1
            except ActrError:
                pass  # its track just ended; _lost cleans up

    async def _source_ended(self, ended: TrackEnded) -> None:
        self.stats.source_ends += 1
        log.info("relay source %s ended: %s", self.source_track_id, ended.reason)
        self._source = None
        self._last_seq = None
        for sub in list(self._subs.values()):
            await self._detach(sub)

    def _want_keyframe(self) -> None:
        ctx = self._ctx
        if ctx is not None and self._source is not None:
            if ctx.request_keyframe(self._source, self.source_track_id):
                self.stats.keyframe_requests += 1

    # ---- re-encoding fallback -------------------------------------------------------

    def _transcoder(self, kind: MediaKind) -> MediaRelay:
        if self._decoded is None or self._decoded.readyState != "live":
            self._decoded = _DecodedSource(kind.value)
            self._media_relay = MediaRelay()
        assert self._media_relay is not None
        return self._media_relay

    def _update_decoding(self) -> None:
        ctx = self._ctx
        if ctx is None or self.source_track_id not in ctx.media.registry:
            return
        decode = any(s.live and not s.forwarding for s in self._subs.values())
        mode = "both" if decode else "encoded"
        if ctx.media.registry.mode(self.source_track_id) != mode:
            ctx.media.registry.set_mode(self.source_track_id, mode)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._logged(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _logged(self, coro: Any) -> None:
        try:
            await coro
        except ActrError as exc:
            log.warning("relay %s: %s", self.out_track_id, exc)


def _codec_argument(request: Any) -> str | None:
    """Subscribe's request: nothing, a codec name, or its UTF-8 bytes (a browser)."""
    if request is None:
        return None
    if isinstance(request, bytes):
        request = request.decode("utf-8", "replace")
    if isinstance(request, dict):
        request = request.get("codec")
    if not isinstance(request, str) or not request.strip():
        return None
    return request.strip()


class MediaRelayWorkload(Workload):
    """A relay actor: a publisher sends it track ``source_track_id``; each caller
    of ``actr.media.Relay.Subscribe`` (request: nothing or a codec name) gets it."""

    def __init__(
        self, source_track_id: str = "video", *, out_track_id: str | None = None,
        mode: RelayMode = "auto",
    ) -> None:
        self.relay = TrackRelay(source_track_id, out_track_id=out_track_id, mode=mode)

    async def on_start(self, ctx: Context) -> None:
        await self.relay.start(ctx)

    async def on_stop(self, ctx: Context) -> None:
        await self.relay.stop()

    @handler("actr.media.Relay.Subscribe", concurrency=16)
    async def subscribe(self, ctx: Context, request: Any) -> str:
        if ctx.caller_id is None:
            raise StateError("subscribe from a remote actor")
        return await self.relay.subscribe(ctx.caller_id, codec=_codec_argument(request))

    @handler("actr.media.Relay.Unsubscribe", concurrency=16)
    async def unsubscribe(self, ctx: Context, request: Any) -> bool:
        if ctx.caller_id is None:
            return False
        return await self.relay.unsubscribe(ctx.caller_id)

    @handler("actr.media.Relay.Stats")
    async def stats(self, ctx: Context, request: Any) -> dict[str, Any]:
        relay = self.relay
        return {
            "source": str(relay.source) if relay.source else None,
            "codec": relay.codec,
            "subscribers": {str(p): how for p, how in relay.subscribers().items()},
            **vars(relay.stats),
        }
