"""Media relay: CPU per subscriber and glass-to-glass latency, forwarding vs re-encoding.

Processes (each a child, pinned like every benchmark child): the signaling
server, a publisher streaming a 640x480 test pattern at 30 fps as VP8, a
relay running ``actr_py.media.relay.MediaRelayWorkload``, and one process
hosting ``SUBSCRIBERS`` subscriber nodes (each on its own hub, so every
subscriber has its own WebRTC connection to the relay), each decoding what
it gets, as a viewer would.

The same setup runs twice in one benchmark run: the relay **forwarding**
(encoded frames re-packetized per subscriber, nothing decoded) and the relay
**re-encoding** (decode once, aiortc's ``MediaRelay``, one VP8 encoder per
subscriber: the relay's ``mode="transcode"``, which is aiortc's own way to
relay and our fallback when a subscriber needs another codec).

CPU is the relay process's ``time.process_time()`` (every thread: aiortc's
decoder and encoder threads included), over a window with no subscriber,
one, and ``SUBSCRIBERS``. It is counted per frame the subscribers actually
decoded and scaled to 30 fps, so a relay that falls behind on a busy machine
(a re-encoding one drops frames when its encoders lag) is not credited for
the work it skipped:

* ``media.relay_cpu_per_subscriber``: what each subscriber after the first
  adds, ``(cpu[N] - cpu[1]) / (frames[N] - frames[1]) * 30``: packetizing and
  encrypting for forwarding, one more VP8 encoder for re-encoding. Target:
  forwarding costs at most a fifth of re-encoding.
* ``media.relay_cpu_first_subscriber``: what the first one adds,
  ``(cpu[1] - cpu[0]) / frames[1] * 30``; re-encoding starts decoding then.
* ``media.glass_to_glass``: from the publisher drawing a frame (its
  ``time.monotonic()`` microsecond is drawn into the picture) to a
  subscriber having decoded it and read that stamp back, through the relay;
  p50/p95 against the re-encoding relay.

Run a child role by hand: ``python -m benchmarks.bench_media --role relay
--signaling URL --mode forward`` (roles: relay, publisher, subscribers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import Any

from actr_py import ActorId, ActrConfig, ActrRef, ActrSystem, ActrTypeName, Workload
from actr_py import loop as actr_loop
from actr_py.config import AclRuleConfig
from actr_py.media import MediaEvent, TrackEnded
from actr_py.media.relay import MediaRelayWorkload
from actr_py.media.testpattern import pattern_frame, read_code
from actr_py.wire.inproc import InprocHub

from ._harness import BenchContext, Record, benchmark, latency_record
from ._nodes import signaling
from ._procs import Child, serve_lines, spawn

RELAY, PUBLISHER, SUBSCRIBER = "bench+media-relay", "bench+media-pub", "bench+media-sub"
TRACK = "camera"
WIDTH, HEIGHT, FPS = 640, 480, 30.0
SUBSCRIBERS = 3


# ---- parent: the figures ---------------------------------------------------------------


async def _cpu(relay: Child) -> tuple[float, float]:
    reply = await relay.request(cmd="cpu")
    return reply["cpu"], reply["wall"]


async def _window(relay: Child, subscribers: Child, seconds: float) -> tuple[float, int]:
    """CPU seconds the relay used per wall second over ``seconds``, and the
    frames its subscribers decoded meanwhile."""
    await subscribers.request(cmd="reset")
    cpu0, wall0 = await _cpu(relay)
    await asyncio.sleep(seconds)
    cpu1, wall1 = await _cpu(relay)
    frames = sum((await subscribers.request(cmd="stats"))["frames"])
    return (cpu1 - cpu0) / (wall1 - wall0), frames


async def _run_mode(url: str, mode: str, window: float, settle: float = 2.0) -> dict[str, Any]:
    module = "benchmarks.bench_media"
    async with contextlib.AsyncExitStack() as stack:
        # Started together (the publisher finds the relay by discovery, retrying):
        # three process start-ups in the time of one.
        relay, publisher, subscribers = await asyncio.gather(
            stack.enter_async_context(
                spawn(module, "--role", "relay", "--signaling", url, "--mode", mode)),
            stack.enter_async_context(
                spawn(module, "--role", "publisher", "--signaling", url)),
            stack.enter_async_context(
                spawn(module, "--role", "subscribers", "--signaling", url,
                      "--count", str(SUBSCRIBERS))),
        )
        await asyncio.sleep(settle)  # the publisher's encoder and rate control settle
        windows = [await _window(relay, subscribers, window)]
        for count in (1, SUBSCRIBERS):
            await subscribers.request(cmd="subscribe", count=count)
            await asyncio.sleep(settle)  # subscriber connections, first keyframes
            sent0 = (await publisher.request(cmd="sent"))["sent"]
            windows.append(await _window(relay, subscribers, window))
            sent1 = (await publisher.request(cmd="sent"))["sent"]
        got = await subscribers.request(cmd="stats")
        stats = (await relay.request(cmd="cpu"))["stats"]
    (cpu0, _), (cpu1, frames1), (cpu_n, frames_n) = windows
    # CPU/s * window = CPU seconds; per decoded frame; * FPS = CPU/s for one 30 fps viewer.
    return {
        "cpu": [c for c, _ in windows],
        "first": (cpu1 - cpu0) * window / max(1, frames1) * FPS,
        "per_subscriber": (cpu_n - cpu1) * window / max(1, frames_n - frames1) * FPS,
        "latencies_ms": got["latencies_ms"],
        "frames": got["frames"],
        "expected": round(window * FPS),
        "sent": sent1 - sent0,
        "relay": stats,
    }


@benchmark("media.relay")
async def bench_relay(ctx: BenchContext) -> list[Record]:
    # --quick must keep the whole suite under two minutes on both loops.
    window, settle = (0.5, 0.3) if ctx.quick else (8.0, 2.0)
    url = await ctx.shared("signaling", signaling)
    forward = await _run_mode(url, "forward", window, settle)
    transcode = await _run_mode(url, "transcode", window, settle)
    setup = (
        f"{WIDTH}x{HEIGHT} VP8 at {FPS:.0f} fps, {SUBSCRIBERS} subscribers decoding; "
        f"{window:.0f} s windows"
    )
    frames_note = (
        f"frames decoded per subscriber in the last window: forwarding {forward['frames']}"
        f", re-encoding {transcode['frames']} (published {forward['sent']} and "
        f"{transcode['sent']}); relay decoded "
        f"{forward['relay']['decoded']} vs {transcode['relay']['decoded']} frames; "
        "relay ms CPU/s at 0/1/N subscribers: forwarding "
        + "/".join(f"{c * 1000:.0f}" for c in forward["cpu"])
        + ", re-encoding " + "/".join(f"{c * 1000:.0f}" for c in transcode["cpu"])
    )
    ms = 1000.0  # CPU seconds per second -> ms of CPU per second of media
    per_sub = Record(
        name="media.relay_cpu_per_subscriber",
        unit="ms CPU/s at 30 fps",
        value=forward["per_subscriber"] * ms,
        baseline_name="re-encoding relay (aiortc MediaRelay + a VP8 encoder per subscriber)",
        baseline_value=transcode["per_subscriber"] * ms,
        ratio=forward["per_subscriber"] / transcode["per_subscriber"]
        if transcode["per_subscriber"] > 0 else float("inf"),
        target="<= 0.2",
        note=f"{setup}; {frames_note}",
    )
    first = Record(
        name="media.relay_cpu_first_subscriber",
        unit="ms CPU/s at 30 fps",
        value=forward["first"] * ms,
        baseline_name="re-encoding relay (starts decoding, plus one encoder)",
        baseline_value=transcode["first"] * ms,
        ratio=forward["first"] / transcode["first"] if transcode["first"] > 0 else float("inf"),
        note=setup,
    )
    latency = latency_record(
        "media.glass_to_glass",
        forward["latencies_ms"],
        "re-encoding relay",
        transcode["latencies_ms"],
        unit="ms",
        note=f"publisher draws the frame -> subscriber decoded it, through the relay; {setup}",
    )
    return [per_sub, first, latency]


# ---- children ---------------------------------------------------------------------------


def _config(url: str, actr_type: str, *admit: str) -> ActrConfig:
    acl = tuple(AclRuleConfig("allow", ((None, ActrTypeName.parse(t)),)) for t in admit)
    return ActrConfig(actr_type=actr_type, signaling_url=url, acl=acl, shutdown_grace=0.5)


async def _discover(ref: ActrRef, actr_type: str) -> ActorId:
    async with asyncio.timeout(30):
        while True:
            try:
                return await ref.context.discover(actr_type)
            except Exception:
                await asyncio.sleep(0.1)


async def _relay(url: str, mode: str) -> None:
    workload = MediaRelayWorkload(TRACK, mode="forward" if mode == "forward" else "transcode")
    ref = await ActrSystem(_config(url, RELAY, PUBLISHER, SUBSCRIBER)).attach(workload).start()

    async def handle(req: dict[str, Any]) -> dict[str, Any]:
        return {"cpu": time.process_time(), "wall": time.monotonic(),
                "stats": vars(workload.relay.stats)}

    try:
        await serve_lines({"actor_id": str(ref.actor_id)}, handle)
    finally:
        await ref.shutdown()


async def _publisher(url: str) -> None:
    ref = await ActrSystem(_config(url, PUBLISHER, RELAY)).attach(Workload()).start()
    relay = await _discover(ref, RELAY)
    await ref.context.add_media_track(relay, TRACK, "video", "VP8")
    sent = 0

    async def stream() -> None:
        nonlocal sent
        start = time.monotonic()
        while True:
            await asyncio.sleep(max(0.0, start + sent / FPS - time.monotonic()))
            stamp = int(time.monotonic() * 1_000_000)
            frame = pattern_frame(WIDTH, HEIGHT, sent, stamp=stamp, pts=int(sent * 90000 / FPS))
            await ref.context.send_media_sample(relay, TRACK, frame)
            sent += 1

    task = asyncio.ensure_future(stream())

    async def handle(req: dict[str, Any]) -> dict[str, Any]:
        return {"sent": sent}

    try:
        await serve_lines({"actor_id": str(ref.actor_id)}, handle)
    finally:
        task.cancel()
        await ref.shutdown()


class _Viewer:
    def __init__(self) -> None:
        self.frames = 0
        self.latencies_ms: list[float] = []

    async def on_media(self, event: MediaEvent, sender: ActorId) -> None:
        if isinstance(event, TrackEnded) or event.frame is None:
            return
        now = int(time.monotonic() * 1_000_000)
        _, stamp = read_code(event.frame)
        self.latencies_ms.append(((now - stamp) % (1 << 32)) / 1000)
        self.frames += 1


async def _subscribers(url: str, count: int) -> None:
    refs: list[ActrRef] = []
    viewers = [_Viewer() for _ in range(count)]
    for viewer in viewers:
        system = ActrSystem(_config(url, SUBSCRIBER, RELAY), hub=InprocHub())
        ref = await system.attach(Workload()).start()
        ref.context.register_media_track(TRACK, viewer.on_media)
        refs.append(ref)
    relay = await _discover(refs[0], RELAY)

    async def handle(req: dict[str, Any]) -> dict[str, Any]:
        cmd = req.get("cmd")
        if cmd == "subscribe":  # the first ``count`` subscribers (again: a no-op)
            await asyncio.gather(*(
                r.context.call(relay, "actr.media.Relay.Subscribe", None)
                for r in refs[: req.get("count", len(refs))]
            ))
        elif cmd == "reset":
            for viewer in viewers:
                viewer.frames = 0
                viewer.latencies_ms = []
        elif cmd == "stats":
            live = [v for v in viewers if v.frames]
            return {
                "frames": [v.frames for v in live],
                "latencies_ms": [x for v in live for x in v.latencies_ms],
            }
        return {}

    try:
        await serve_lines({"count": count}, handle)
    finally:
        for ref in refs:
            await ref.shutdown()


async def _child(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--role", choices=("relay", "publisher", "subscribers"), required=True)
    p.add_argument("--signaling", required=True)
    p.add_argument("--mode", default="forward", choices=("forward", "transcode"))
    p.add_argument("--count", type=int, default=SUBSCRIBERS)
    args = p.parse_args(argv)
    if args.role == "relay":
        await _relay(args.signaling, args.mode)
    elif args.role == "publisher":
        await _publisher(args.signaling)
    else:
        await _subscribers(args.signaling, args.count)


if __name__ == "__main__":
    actr_loop.run(_child(sys.argv[1:]))
