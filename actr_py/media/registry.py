"""MediaFrameRegistry: media samples to the callback registered for their track.

Media never passes the InboundGate: it arrives on RTP tracks, not as frames
on a byte lane, and the media manager hands each received sample here. The
registry keeps, per registered track id, one bounded queue and one consumer
task, so a track's samples reach its callback one at a time and in order,
and a slow callback holds back only its own track.

Media is latency-first: when a track's queue is full the oldest sample is
dropped (counted) and the callback sees the gap in ``sequence``; a decoder
waiting on a dropped video frame is helped by a keyframe request, which the
media manager sends when told through ``on_drop``. A :class:`TrackEnded` is
never dropped.

Each registration says what it wants: ``"decoded"`` frames (PyAV), the
``"encoded"`` bitstream (what a relay forwards), or ``"both"``. The manager
asks :meth:`mode` per frame, so a track nobody wants decoded is never
decoded. Samples for a track id nobody registered are dropped and counted:
old media is worthless, and registering later makes the manager ask the
sender for a keyframe (``on_register``) so decoding can start at once.

A ``MEDIA_RTP`` frame arriving on a byte lane (a peer sending media over a
WebSocket lane, say) is not media this runtime can play: the gate passes it
to :meth:`deliver_off_track`, which counts and drops it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias

from ..ids import ActorId
from .sample import MediaEvent, MediaSample, TrackEnded, check_track_id

__all__ = ["MediaCallback", "MediaFrameRegistry", "MediaMode", "MediaStats"]

log = logging.getLogger("actr_py.media")

MediaCallback: TypeAlias = Callable[[MediaEvent, ActorId], Awaitable[None]]
MediaMode: TypeAlias = Literal["decoded", "encoded", "both"]
_MODES = ("decoded", "encoded", "both")
ErrorSink = Callable[[BaseException, str], None]


@dataclass
class MediaStats:
    delivered: int = 0
    #: Samples pushed out of a full queue (the callback was too slow).
    dropped: int = 0
    #: Samples for a track id nobody registered.
    unregistered: int = 0
    ended: int = 0
    #: MEDIA_RTP frames that arrived on a byte lane instead of an RTP track.
    off_track: int = 0
    callback_errors: int = 0


class _Registration:
    __slots__ = ("callback", "mode", "queue", "task", "waiter")

    def __init__(self, callback: MediaCallback, mode: MediaMode) -> None:
        self.callback = callback
        self.mode = mode
        self.queue: deque[tuple[MediaEvent, ActorId]] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)


class MediaFrameRegistry:
    def __init__(
        self,
        *,
        queue_size: int = 32,
        on_error: ErrorSink | None = None,
        on_register: Callable[[str], None] | None = None,
        on_drop: Callable[[ActorId, str], None] | None = None,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self.queue_size = queue_size
        self.stats = MediaStats()
        self.on_register = on_register
        self.on_drop = on_drop
        self._on_error = on_error
        self._tracks: dict[str, _Registration] = {}
        self._warned_off_track = False

    def __contains__(self, track_id: str) -> bool:
        return track_id in self._tracks

    def register(
        self, track_id: str, callback: MediaCallback, *, mode: MediaMode = "decoded"
    ) -> None:
        """Deliver the samples of every track called ``track_id`` to ``callback``."""
        check_track_id(track_id)
        _check_mode(mode)
        if track_id in self._tracks:
            raise ValueError(f"media track {track_id!r} is already registered")
        reg = _Registration(callback, mode)
        reg.task = asyncio.get_running_loop().create_task(
            self._consume(track_id, reg), name=f"actr-media-{track_id}"
        )
        self._tracks[track_id] = reg
        if self.on_register is not None:
            self.on_register(track_id)

    def unregister(self, track_id: str) -> bool:
        reg = self._tracks.pop(track_id, None)
        if reg is None:
            return False
        pending = sum(isinstance(event, MediaSample) for event, _ in reg.queue)
        self.stats.dropped += pending
        if reg.task is not None:
            reg.task.cancel()
        return True

    def mode(self, track_id: str) -> MediaMode | None:
        """What the registration of ``track_id`` wants; None when nobody registered."""
        reg = self._tracks.get(track_id)
        return reg.mode if reg is not None else None

    def set_mode(self, track_id: str, mode: MediaMode) -> None:
        _check_mode(mode)
        reg = self._tracks.get(track_id)
        if reg is None:
            raise KeyError(track_id)
        changed = reg.mode != mode
        reg.mode = mode
        if changed and self.on_register is not None:
            self.on_register(track_id)  # a decoder starting now needs a keyframe

    def deliver(self, sender: ActorId, sample: MediaSample) -> bool:
        """Queue ``sample`` for its track's callback; False when nobody registered it."""
        reg = self._tracks.get(sample.track_id)
        if reg is None:
            self.stats.unregistered += 1
            return False
        queue = reg.queue
        if len(queue) >= self.queue_size:
            for i, (event, _) in enumerate(queue):
                if isinstance(event, MediaSample):
                    del queue[i]
                    self.stats.dropped += 1
                    if self.on_drop is not None:
                        self.on_drop(sender, sample.track_id)
                    break
        queue.append((sample, sender))
        reg.wake()
        return True

    def end(self, sender: ActorId, ended: TrackEnded) -> None:
        """Queue the end of ``sender``'s track; it is delivered after its samples."""
        self.stats.ended += 1
        reg = self._tracks.get(ended.track_id)
        if reg is not None:
            reg.queue.append((ended, sender))
            reg.wake()

    def deliver_off_track(self, sender: ActorId, data: bytes) -> None:
        """A MEDIA_RTP frame that came on a byte lane: count and drop it."""
        self.stats.off_track += 1
        level = logging.DEBUG if self._warned_off_track else logging.WARNING
        self._warned_off_track = True
        log.log(
            level,
            "dropped a %d-byte MEDIA_RTP frame from %s: media rides RTP tracks only",
            len(data), sender,
        )

    async def close(self) -> None:
        tasks = [reg.task for reg in self._tracks.values() if reg.task is not None]
        for track_id in list(self._tracks):
            self.unregister(track_id)
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _consume(self, track_id: str, reg: _Registration) -> None:
        queue = reg.queue
        stats = self.stats
        loop = asyncio.get_running_loop()
        while True:
            if not queue:
                reg.waiter = loop.create_future()
                await reg.waiter
                continue
            event, sender = queue.popleft()
            try:
                await reg.callback(event, sender)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                stats.callback_errors += 1
                self._report(exc, f"media track {track_id!r} callback")
            else:
                stats.delivered += 1

    def _report(self, exc: BaseException, where: str) -> None:
        if self._on_error is not None:
            self._on_error(exc, where)
        else:
            log.warning("%s: %s", where, exc)


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"media mode must be one of {', '.join(_MODES)}, got {mode!r}")
