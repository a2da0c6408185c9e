"""A media callback that keeps what it receives, for assertions."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from actr_py import ActorId
from actr_py.media import MediaEvent, MediaSample, TrackEnded


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
