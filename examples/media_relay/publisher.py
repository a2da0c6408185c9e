"""A camera stand-in: streams a test pattern (or a video file) to the relay.

    python -m examples.media_relay.publisher --signaling ws://127.0.0.1:8081/signaling/ws

Each frame shows its number and the ``time.monotonic()`` microsecond it was
made (see actr_py.media.testpattern), so subscribers can check content and
measure glass-to-glass latency. With ``--file`` it decodes a video with PyAV
and sends its frames at their own pace instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import av

from actr_py import ActrSystem, Workload
from actr_py.media.testpattern import pattern_frame

from .common import PUBLISHER, RELAY, TRACK, config, discover, stop_event


async def pattern(width: int, height: int, fps: float) -> AsyncIterator[av.VideoFrame]:
    start = time.monotonic()
    index = 0
    while True:
        due = start + index / fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        stamp = int(time.monotonic() * 1_000_000)
        yield pattern_frame(width, height, index, stamp=stamp, pts=int(index * 90000 / fps))
        index += 1


async def from_file(path: str) -> AsyncIterator[av.VideoFrame]:
    with av.open(path) as container:
        stream = container.streams.video[0]
        start = time.monotonic()
        first: float | None = None
        for frame in container.decode(stream):
            t = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
            first = t if first is None else first
            await asyncio.sleep(max(0.0, start + (t - first) - time.monotonic()))
            frame.pts = None  # re-stamped from the wall clock by the track
            yield frame


async def main(args: argparse.Namespace) -> None:
    node = ActrSystem(config(args.signaling, PUBLISHER, RELAY)).attach(Workload())
    ref = await node.start()
    ctx = ref.context
    stop = stop_event()
    relay = await discover(ctx, RELAY)
    await ctx.add_media_track(relay, TRACK, "video", args.codec)
    print(f"[publisher] {ref.actor_id} streaming {args.codec} to {relay}", flush=True)
    frames = from_file(args.file) if args.file else pattern(args.width, args.height, args.fps)
    sent = 0
    deadline = time.monotonic() + args.seconds if args.seconds else None

    async def stream() -> None:
        nonlocal sent
        async for frame in frames:
            await ctx.send_media_sample(relay, TRACK, frame)
            sent += 1
            if deadline is not None and time.monotonic() >= deadline:
                return

    task = asyncio.ensure_future(stream())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    task.cancel()
    stopping.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(Exception):
        await ctx.remove_media_track(relay, TRACK)
    print(f"[publisher] sent {sent} frames", flush=True)
    await ref.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--signaling", required=True)
    parser.add_argument("--codec", default="VP8", choices=("VP8", "H264"))
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=0.0, help="0: until SIGTERM")
    parser.add_argument("--file", help="stream this video file instead of the pattern")
    asyncio.run(main(parser.parse_args()))
