"""The relay: one publisher, three subscribers, forwarding without re-encoding.

Nodes in this process on separate hubs, all through the real signaling
server; the publisher that dies is a real child process, killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actr_py import ActrRef
from actr_py.media.relay import MediaRelayWorkload
from tests.wire.webrtc._support import wait_until

from ._support import Collector, check_pictures, patterns, streaming

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIBE, UNSUBSCRIBE = "actr.media.Relay.Subscribe", "actr.media.Relay.Unsubscribe"
#: 30 fps: a late subscriber must start within a second of media time.
SECOND_OF_FRAMES = 30


async def subscriber(node, relay: ActrRef, track: str = "cam", codec: str | None = None):
    ref = await node("acme+sub")
    got = Collector()
    ref.context.register_media_track(track, got)
    assert await ref.context.call(relay.actor_id, SUBSCRIBE, codec) == track
    return ref, got


def relay_of(ref: ActrRef) -> MediaRelayWorkload:
    workload = ref.node.workload
    assert isinstance(workload, MediaRelayWorkload)
    return workload


async def test_three_subscribers_join_and_leave_without_disturbing_each_other(node) -> None:
    relay = await node("acme+relay", MediaRelayWorkload("cam"))
    pub = await node("acme+pub")
    await pub.context.add_media_track(relay.actor_id, "cam", "video", "VP8")
    async with streaming(pub.context, relay.actor_id, "cam", patterns(), 30) as published:
        (s1, got1), (s2, got2) = await asyncio.gather(
            subscriber(node, relay), subscriber(node, relay)
        )
        await got1.wait(20)
        await got2.wait(20)
        # The third joins late: the stream's first keyframe is long gone.
        joined_at = published.sent
        s3, got3 = await subscriber(node, relay)
        await got3.wait(10)
        first = got3.samples[0]
        assert first.keyframe and first.sequence == 0
        first_index = check_pictures(got3.samples[:10])[0]
        assert joined_at <= first_index <= joined_at + SECOND_OF_FRAMES
        # One leaves; the others go on, frame after frame, without a new keyframe.
        n2, n3 = len(got2.samples), len(got3.samples)
        assert await s1.context.call(relay.actor_id, UNSUBSCRIBE, None) is True
        ended = await got1.wait_end()
        assert ended.track_id == "cam" and str(relay.actor_id) in ended.reason
        await got2.wait(n2 + 30)
        await got3.wait(n3 + 30)
    for got in (got2, got3):
        after = got.samples[-40:]
        indices = check_pictures(after)
        assert indices == list(range(indices[0], indices[0] + len(indices)))
        assert not got.ended
    stats = relay_of(relay).relay.stats
    assert stats.decoded == 0 and stats.forwarded > 0 and stats.gaps == 0
    assert relay.node.media_frames.mode("cam") == "encoded"  # nothing was decoded here
    inbound = relay.node.media.inbound(pub.actor_id, "cam")
    assert inbound is not None and inbound.keyframe_requests >= 1  # asked for s3's keyframe
    assert set(relay_of(relay).relay.subscribers()) == {s2.actor_id, s3.actor_id}
    # A subscriber that just goes away is dropped; the other is not bothered.
    await s2.shutdown()
    await wait_until(lambda: s2.actor_id not in relay_of(relay).relay.subscribers())
    assert set(relay_of(relay).relay.subscribers()) == {s3.actor_id}


async def test_a_subscriber_wanting_another_codec_gets_it_transcoded(node) -> None:
    relay = await node("acme+relay", MediaRelayWorkload("cam"))
    pub = await node("acme+pub")
    await pub.context.add_media_track(relay.actor_id, "cam", "video", "VP8")
    async with streaming(pub.context, relay.actor_id, "cam", patterns(), 30):
        (_, forwarded), (h264_sub, transcoded) = await asyncio.gather(
            subscriber(node, relay), subscriber(node, relay, codec="H264")
        )
        await forwarded.wait(10)
        await transcoded.wait(10)
        assert relay.node.media_frames.mode("cam") == "both"
        await h264_sub.context.call(relay.actor_id, UNSUBSCRIBE, None)
        await transcoded.wait_end()
        assert relay.node.media_frames.mode("cam") == "encoded"  # decoding stops with it
    assert {s.codec for s in forwarded.samples} == {"VP8"}
    assert {s.codec for s in transcoded.samples} == {"H264"}
    check_pictures(transcoded.samples[:10])
    how = relay_of(relay).relay.subscribers()
    assert list(how.values()) == ["forward"]
    assert relay_of(relay).relay.stats.decoded > 0


@contextlib.asynccontextmanager
async def publisher_process(url: str) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "examples.media_relay.publisher", "--signaling", url,
        "--width", "320", "--height", "240",
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.startswith(b"[publisher]"), line
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def test_publisher_dying_ends_every_subscriber_track(node, server) -> None:
    from examples.media_relay.common import RELAY, TRACK

    relay = await node(RELAY, MediaRelayWorkload(TRACK))
    async with publisher_process(server.url) as proc:
        subs = [await subscriber(node, relay, TRACK) for _ in range(2)]
        for _, got in subs:
            await got.wait(10, timeout=20)
        proc.send_signal(signal.SIGKILL)  # no goodbye, no RTCP BYE: the link just dies
        for _, got in subs:
            ended = await got.wait_end(timeout=15)
            assert ended.track_id == TRACK and str(relay.actor_id) in ended.reason
    workload = relay_of(relay)
    assert workload.relay.source is None and workload.relay.stats.source_ends == 1
    # The subscribers stay subscribed, waiting for the next publisher.
    assert set(workload.relay.subscribers().values()) == {"waiting"}
