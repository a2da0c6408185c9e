"""Media test helpers: a callback that keeps what it receives, a paced sender,
and the picture check every video test uses."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import av

from actr_py import ActorId
from actr_py.media import MediaEvent, MediaSample, TrackEnded
from actr_py.media.testpattern import luma_difference, pattern_frame, read_code

W, H = 320, 240
#: Mean luma difference (0-255) a decoded frame may have from the one sent.
TOLERANCE = 3.0


@dataclass
class Collector:
    samples: list[MediaSample] = field(default_factory=list)
    senders: list[ActorId] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # time.monotonic() of each sample
    ended: list[TrackEnded] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, event: MediaEvent, sender: ActorId) -> None:
        if isinstance(event, TrackEnded):
            self.ended.append(event)
        else:
            self.samples.append(event)
            self.senders.append(sender)
            self.arrived.append(time.monotonic())
        self._changed.set()

    async def wait(self, count: int, timeout: float = 10.0) -> list[MediaSample]:
        """Until ``count`` samples arrived (state, not speed: the bound only ends a hang)."""
        async with asyncio.timeout(timeout):
            while len(self.samples) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.samples

    async def wait_end(self, timeout: float = 10.0) -> TrackEnded:
        async with asyncio.timeout(timeout):
            while not self.ended:
                self._changed.clear()
                await self._changed.wait()
        return self.ended[0]


class Streaming:
    """Pushes frames to a track at a fixed rate in the background; ``sent`` counts them."""

    def __init__(self) -> None:
        self.sent = 0


@contextlib.asynccontextmanager
async def streaming(
    ctx: Any, dest: ActorId, track: str, frames: Iterable[Any], rate: float
) -> AsyncIterator[Streaming]:
    """Push ``frames`` to ``dest`` at ``rate`` per second while the block runs."""
    state = Streaming()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n, frame in enumerate(frames):
            await asyncio.sleep(max(0.0, start + n / rate - loop.time()))
            await ctx.send_media_sample(dest, track, frame)
            state.sent = n + 1

    task = asyncio.ensure_future(run())
    try:
        yield state
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def patterns(start: int = 0) -> Iterable[av.VideoFrame]:
    """Test pattern frames numbered from ``start``."""
    return (pattern_frame(W, H, i) for i in itertools.count(start))


def check_pictures(samples: list[MediaSample]) -> list[int]:
    """Each decoded frame shows the pattern its code names; returns the codes."""
    indices = []
    for sample in samples:
        assert sample.frame is not None
        index, _ = read_code(sample.frame)
        indices.append(index)
        assert luma_difference(sample.frame, pattern_frame(W, H, index)) < TOLERANCE, index
        # The tolerance is meaningful: a neighbouring frame would fail it.
        assert luma_difference(sample.frame, pattern_frame(W, H, index + 3)) > TOLERANCE
    return indices
