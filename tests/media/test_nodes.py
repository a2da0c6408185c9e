"""Media between nodes over real WebRTC, negotiated through the real signaling server.

Video content is checked frame by frame: every test frame carries its
number (actr_py.media.testpattern), so the receiver regenerates what it
should have got and compares luma with a tolerance that lossy VP8/H264
meets and a neighbouring frame does not.
"""

from __future__ import annotations

import array
import asyncio
import itertools
import re

import av
import pytest

from actr_py import ActrSystem, InvalidId, Workload
from actr_py.errors import StateError
from actr_py.media import (
    InvalidTrackId,
    MediaKind,
    TrackExists,
    UnknownTrack,
    UnsupportedCodec,
    is_keyframe,
)
from actr_py.media.testpattern import (
    dominant_frequency,
    pattern_frame,
    pcm_samples,
    read_code,
    tone_frames,
)
from actr_py.wire.inproc import InprocHub
from actr_py.wire.webrtc.media_sdp import negotiated_codecs

from ._support import Collector, H, W, check_pictures, patterns, streaming

pytestmark = pytest.mark.slow

async def relayed(server) -> dict[str, int]:
    """The signaling server's count of relays delivered, by payload kind."""
    text = await asyncio.to_thread(server.metrics_text)
    return {
        m[1]: int(float(m[2]))
        for m in re.finditer(r'relays_total\{kind="(\w+)"\} (\S+)', text)
    }


async def test_video_track_arrives_with_its_id_kind_codec_time_and_content(node, server) -> None:
    pub, sub = await node("acme+pub"), await node("acme+sub")
    got = Collector()
    sub.context.register_media_track("cam-1", got)
    await pub.node.network.webrtc.coordinator.connect(sub.actor_id)  # DataChannels first
    before = await relayed(server)
    await pub.context.add_media_track(sub.actor_id, "cam-1", "video", "VP8")
    after = await relayed(server)
    # The track came by renegotiation through the server: one offer, one answer,
    # and no ICE candidate (it rides the transport the DataChannels use).
    assert after["session_description"] - before["session_description"] == 2
    assert after.get("ice_candidate", 0) == before.get("ice_candidate", 0)
    async with streaming(pub.context, sub.actor_id, "cam-1", patterns(), 30):
        samples = (await got.wait(30))[:30]
    first = samples[0]
    assert (first.track_id, first.kind, first.codec, first.clock_rate) == (
        "cam-1", MediaKind.VIDEO, "VP8", 90000
    )
    assert first.keyframe and first.timestamp == 0 and first.sequence == 0
    assert set(got.senders) == {pub.actor_id}
    assert [s.sequence for s in samples] == list(range(30))
    indices = check_pictures(samples)
    assert indices == list(range(indices[0], indices[0] + 30))  # none lost, in order
    # The RTP clock: 3000 ticks per frame at 30 fps (aiortc may round by one tick).
    for sample, index in zip(samples, indices, strict=True):
        assert abs(sample.timestamp - (index - indices[0]) * 3000) <= 2
    # Negotiated on actr's reference payload type.
    conn = sub.node.network.webrtc.coordinator.connection(pub.actor_id)
    (transceiver,) = conn.peer_connection.getTransceivers()
    codecs = negotiated_codecs(conn.peer_connection.remoteDescription.sdp, transceiver.mid)
    assert codecs[96].name == "VP8" and {c.name for c in codecs.values()} == {"VP8", "RTX"}


async def test_h264_track(node) -> None:
    pub, sub = await node("acme+pub"), await node("acme+sub")
    got = Collector()
    sub.context.register_media_track("cam-h264", got)
    await pub.context.add_media_track(sub.actor_id, "cam-h264", "video", "h264")
    async with streaming(pub.context, sub.actor_id, "cam-h264", patterns(), 30):
        samples = (await got.wait(15))[:15]
    assert {s.codec for s in samples} == {"H264"} and samples[0].keyframe
    check_pictures(samples)
    conn = sub.node.network.webrtc.coordinator.connection(pub.actor_id)
    (transceiver,) = conn.peer_connection.getTransceivers()
    codecs = negotiated_codecs(conn.peer_connection.remoteDescription.sdp, transceiver.mid)
    assert codecs[102].name == "H264" and codecs[102].parameters["profile-level-id"] == "42e01f"


async def test_audio_track_is_opus_and_keeps_its_tone(node) -> None:
    pub, sub = await node("acme+pub"), await node("acme+sub")
    got = Collector()
    sub.context.register_media_track("mic", got)
    await pub.context.add_media_track(sub.actor_id, "mic", "audio", "opus")
    async with streaming(pub.context, sub.actor_id, "mic", tone_frames(440.0), 50):
        samples = (await got.wait(60))[:60]
    first = samples[0]
    assert (first.kind, first.codec, first.clock_rate) == (MediaKind.AUDIO, "OPUS", 48000)
    assert all(isinstance(s.frame, av.AudioFrame) for s in samples)
    steps = {b.timestamp - a.timestamp for a, b in itertools.pairwise(samples)}
    assert steps == {960}  # 20 ms per Opus frame on the 48 kHz RTP clock
    pcm = array.array("h")
    for sample in samples[10:]:  # past the codec's start-up
        pcm.extend(pcm_samples(sample.frame))
    assert max(abs(v) for v in pcm) > 2000  # not silence
    assert dominant_frequency(pcm, 48000) == pytest.approx(440.0, rel=0.03)
    conn = sub.node.network.webrtc.coordinator.connection(pub.actor_id)
    (transceiver,) = conn.peer_connection.getTransceivers()
    codecs = negotiated_codecs(conn.peer_connection.remoteDescription.sdp, transceiver.mid)
    assert list(codecs) == [111] and codecs[111].name == "OPUS"


async def test_encoded_and_both_modes_give_the_bitstream(node) -> None:
    pub, sub = await node("acme+pub"), await node("acme+sub")
    encoded, both = Collector(), Collector()
    sub.context.register_media_track("raw", encoded, mode="encoded")
    sub.context.register_media_track("both", both, mode="both")
    await pub.context.add_media_track(sub.actor_id, "raw", "video", "VP8")
    await pub.context.add_media_track(sub.actor_id, "both", "video", "VP8")
    frames = patterns()
    async with (
        streaming(pub.context, sub.actor_id, "raw", frames, 30),
        streaming(pub.context, sub.actor_id, "both", patterns(), 30),
    ):
        await encoded.wait(20)
        await both.wait(40)
    assert all(s.frame is None and s.data for s in encoded.samples)
    assert encoded.samples[0].keyframe and is_keyframe("VP8", encoded.samples[0].data)
    assert not encoded.samples[5].keyframe
    packets = [s for s in both.samples if s.encoded]
    pictures = [s for s in both.samples if s.frame is not None]
    assert packets and pictures
    # One clock for both forms: each picture has the timestamp of its bitstream.
    assert {s.timestamp for s in pictures} <= {s.timestamp for s in packets}
    assert sub.node.media_frames.stats.callback_errors == 0


async def test_removed_track_ends_at_the_receiver_and_can_be_added_again(node) -> None:
    pub, sub = await node("acme+pub"), await node("acme+sub")
    got = Collector()
    sub.context.register_media_track("cam", got)
    ctx = pub.context
    await ctx.add_media_track(sub.actor_id, "cam", "video", "VP8")
    async with streaming(ctx, sub.actor_id, "cam", patterns(), 30):
        await got.wait(5)
    await ctx.remove_media_track(sub.actor_id, "cam")
    ended = await got.wait_end()
    assert ended.track_id == "cam" and ended.codec == "VP8"
    assert str(pub.actor_id) in ended.reason
    with pytest.raises(UnknownTrack):
        await ctx.send_media_sample(sub.actor_id, "cam", pattern_frame(W, H, 0))
    before = len(got.samples)
    await ctx.add_media_track(sub.actor_id, "cam", "video", "VP8")
    async with streaming(ctx, sub.actor_id, "cam", patterns(100), 30):
        await got.wait(before + 5)
    again = got.samples[before:]
    assert again[0].sequence == 0 and again[0].keyframe  # a new track, from its start
    assert read_code(again[0].frame)[0] >= 100


async def test_both_sides_add_tracks_at_once(node) -> None:
    a, b = await node("acme+peer"), await node("acme+peer")
    at_a, at_b = Collector(), Collector()
    a.context.register_media_track("cam", at_a)
    b.context.register_media_track("cam", at_b)
    await asyncio.gather(
        a.context.add_media_track(b.actor_id, "cam", "video", "VP8"),
        b.context.add_media_track(a.actor_id, "cam", "video", "VP8"),
    )
    async with (
        streaming(a.context, b.actor_id, "cam", patterns(), 30),
        streaming(b.context, a.actor_id, "cam", patterns(500), 30),
    ):
        await at_a.wait(10)
        await at_b.wait(10)
    assert read_code(at_b.samples[-1].frame)[0] < 500 <= read_code(at_a.samples[-1].frame)[0]
    assert set(at_a.senders) == {b.actor_id} and set(at_b.senders) == {a.actor_id}


async def test_registering_late_asks_the_sender_for_a_keyframe(node) -> None:
    pub, sub = await node("acme+pub"), await node("acme+sub")
    await pub.context.add_media_track(sub.actor_id, "late", "video", "VP8")
    got = Collector()
    async with streaming(pub.context, sub.actor_id, "late", patterns(), 30):
        await asyncio.sleep(0.6)  # frames arrive; nobody listens yet
        assert sub.node.media_frames.stats.unregistered > 0
        inbound = sub.node.media.inbound(pub.actor_id, "late")
        assert inbound is not None and inbound.keyframe_requests == 0
        sub.context.register_media_track("late", got)
        samples = await got.wait(5)
    assert inbound.keyframe_requests >= 1
    assert samples[0].keyframe  # decoding started on a fresh keyframe
    check_pictures(samples[:5])


async def test_misuse_is_refused(node) -> None:
    pub, sub = await node("acme+pub"), await node("acme+sub")
    ctx = pub.context
    with pytest.raises(UnsupportedCodec, match="AV1"):
        await ctx.add_media_track(sub.actor_id, "x", "video", "AV1")
    with pytest.raises(UnsupportedCodec, match="audio codec"):
        await ctx.add_media_track(sub.actor_id, "x", "video", "opus")
    with pytest.raises(InvalidTrackId):
        await ctx.add_media_track(sub.actor_id, "has space", "video", "VP8")
    with pytest.raises(InvalidId):
        await ctx.add_media_track(pub.actor_id, "self", "video", "VP8")
    with pytest.raises(UnknownTrack):
        await ctx.send_media_sample(sub.actor_id, "never-added", pattern_frame(W, H, 0))
    await ctx.add_media_track(sub.actor_id, "cam", "video", "VP8")
    with pytest.raises(TrackExists):
        await ctx.add_media_track(sub.actor_id, "cam", "video", "VP8")
    await ctx.send_media_sample(sub.actor_id, "cam", pattern_frame(W, H, 0))
    with pytest.raises(UnsupportedCodec, match="cannot mix"):
        await ctx.send_media_sample(sub.actor_id, "cam", av.Packet(b"\x10\x02\x00"))
    with pytest.raises(UnsupportedCodec, match="video"):
        await ctx.send_media_sample(sub.actor_id, "cam", next(tone_frames(440)))
    with pytest.raises(ValueError, match="already registered"):
        sub.context.register_media_track("dup", Collector())
        sub.context.register_media_track("dup", Collector())


async def test_media_needs_a_webrtc_node() -> None:
    hub = InprocHub()
    async with ActrSystem("acme+solo", hub=hub).attach(Workload()) as a:
        async with ActrSystem("acme+other", hub=hub).attach(Workload()) as b:
            with pytest.raises(StateError, match="signaling_url"):
                await a.context.add_media_track(b.actor_id, "cam", "video", "VP8")
