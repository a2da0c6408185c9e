"""A viewer: subscribes to the relay, counts and checks frames, saves a snapshot.

    python -m examples.media_relay.subscriber --signaling ws://... --name sub1 --frames 90

It decodes every frame (``register_media_track`` default mode), reads the
number and timestamp the publisher drew into it, compares the picture with
the pattern that number stands for, and reports frames received, how many
looked wrong, the glass-to-glass latency (p50/p95) and where the PNG went.
It ends after ``--frames`` frames, or when the track ends.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

from actr_py import ActorId, ActrSystem, Workload
from actr_py.media import MediaEvent, TrackEnded
from actr_py.media.png import save_png
from actr_py.media.testpattern import luma_difference, pattern_frame, read_code

from .common import RELAY, SUBSCRIBE, SUBSCRIBER, TRACK, config, discover, stop_event

#: Mean luma difference (0-255) above which a decoded frame does not show what
#: was sent. aiortc starts VP8 at 500 kbps, which at 640x480 leaves a few levels
#: of coding noise (more on the first keyframe); a frame of another number
#: differs by far more in the code band alone.
TOLERANCE = 12.0


class Viewer:
    def __init__(self, name: str, frames: int, snapshot: Path | None) -> None:
        self.name = name
        self.want = frames
        self.snapshot = snapshot
        self.count = 0
        self.bad = 0
        self.first_keyframe: bool | None = None
        self.latencies_ms: list[float] = []
        self.ended: str | None = None
        self.done = asyncio.Event()

    async def on_media(self, event: MediaEvent, sender: ActorId) -> None:
        if isinstance(event, TrackEnded):
            self.ended = event.reason
            self.done.set()
            return
        frame = event.frame
        if frame is None:
            return
        now_us = int(time.monotonic() * 1_000_000)
        if self.first_keyframe is None:
            self.first_keyframe = event.keyframe
        index, stamp = read_code(frame)
        self.latencies_ms.append(((now_us - stamp) % (1 << 32)) / 1000)
        if self.count % 10 == 0:  # comparing costs a few ms: sample it
            want = pattern_frame(frame.width, frame.height, index)
            if luma_difference(frame, want) > TOLERANCE:
                self.bad += 1
        self.count += 1
        if self.snapshot is not None and self.count == max(1, self.want // 2):
            save_png(frame, self.snapshot)
        if self.count >= self.want:
            self.done.set()

    def summary(self) -> str:
        lat = sorted(self.latencies_ms)
        p50 = statistics.median(lat) if lat else float("nan")
        p95 = lat[int(len(lat) * 0.95)] if lat else float("nan")
        return (
            f"[{self.name}] {self.count} frames, {self.bad} wrong, first frame a keyframe: "
            f"{self.first_keyframe}, latency p50 {p50:.1f} ms p95 {p95:.1f} ms"
            + (f", snapshot {self.snapshot}" if self.snapshot and self.snapshot.exists() else "")
            + (f", track ended: {self.ended}" if self.ended else "")
        )


async def main(args: argparse.Namespace) -> int:
    viewer = Viewer(args.name, args.frames, Path(args.snapshot) if args.snapshot else None)
    node = ActrSystem(config(args.signaling, SUBSCRIBER, RELAY)).attach(Workload())
    ref = await node.start()
    ctx = ref.context
    ctx.register_media_track(TRACK, viewer.on_media)
    relay = await discover(ctx, RELAY)
    await ctx.call(relay, SUBSCRIBE, None)
    print(f"[{args.name}] {ref.actor_id} subscribed to {relay}", flush=True)
    stop = stop_event()
    waits = {asyncio.ensure_future(viewer.done.wait()), asyncio.ensure_future(stop.wait())}
    _, pending = await asyncio.wait(waits, timeout=args.timeout, return_when="FIRST_COMPLETED")
    for task in pending:
        task.cancel()
    print(viewer.summary(), flush=True)
    await ref.shutdown()
    return 0 if viewer.count >= args.frames and viewer.bad == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--signaling", required=True)
    parser.add_argument("--name", default="subscriber")
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--snapshot", help="save a PNG of the middle frame here")
    parser.add_argument("--timeout", type=float, default=60.0)
    raise SystemExit(asyncio.run(main(parser.parse_args())))
