"""MediaFrameRegistry and OutboundTrack on their own: order, loss, keyframe gating."""

from __future__ import annotations

import asyncio
import fractions

import av
import pytest
from aiortc.mediastreams import MediaStreamError

from actr_py.ids import ActorId, ActrTypeName
from actr_py.media import (
    CODECS,
    InvalidTrackId,
    MediaFrameRegistry,
    MediaKind,
    MediaSample,
    OutboundTrack,
    TrackEnded,
    UnsupportedCodec,
)
from actr_py.media.testpattern import pattern_frame, tone_frames

from ._support import Collector

PEER = ActorId(1, 7, ActrTypeName("acme", "pub"))
KEY, DELTA = b"\x10\x02\x00\x9d\x01\x2a", b"\x11\x00\x00"


def sample(seq: int, *, track: str = "cam", key: bool = False) -> MediaSample:
    return MediaSample(track, MediaKind.VIDEO, "VP8", seq * 3000, 90000, seq,
                       data=KEY if key else DELTA, keyframe=key)


async def drain() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# ---- registry -------------------------------------------------------------------------


async def test_samples_reach_the_callback_in_order_then_the_end() -> None:
    registry = MediaFrameRegistry()
    got = Collector()
    registry.register("cam", got)
    for i in range(10):
        assert registry.deliver(PEER, sample(i))
    registry.end(PEER, TrackEnded("cam", MediaKind.VIDEO, "VP8", "bye"))
    await got.wait_end()
    assert [s.sequence for s in got.samples] == list(range(10))
    assert registry.stats.delivered == 11 and registry.stats.ended == 1
    await registry.close()


async def test_a_slow_callback_loses_the_oldest_samples_never_the_end() -> None:
    drops: list[tuple[ActorId, str]] = []
    registry = MediaFrameRegistry(queue_size=4, on_drop=lambda p, t: drops.append((p, t)))
    release = asyncio.Event()
    seen: list[object] = []

    async def slow(event: object, sender: ActorId) -> None:
        await release.wait()
        seen.append(event)

    registry.register("cam", slow)
    registry.deliver(PEER, sample(0))
    await drain()  # sample 0 is in the callback now, which waits
    for i in range(1, 10):
        registry.deliver(PEER, sample(i))
    registry.end(PEER, TrackEnded("cam", MediaKind.VIDEO, "VP8", "bye"))
    registry.deliver(PEER, sample(10))
    release.set()
    await drain()
    await asyncio.sleep(0.01)
    kept = [e.sequence for e in seen if isinstance(e, MediaSample)]
    assert kept[0] == 0 and kept[-1] == 10 and len(kept) < 11  # a gap the callback can see
    assert any(isinstance(e, TrackEnded) for e in seen)
    assert registry.stats.dropped == 11 - len(kept) and drops and drops[0] == (PEER, "cam")
    await registry.close()


async def test_modes_unregistered_tracks_and_off_track_frames() -> None:
    registered: list[str] = []
    registry = MediaFrameRegistry(on_register=registered.append)
    assert registry.mode("cam") is None
    assert not registry.deliver(PEER, sample(0))
    assert registry.stats.unregistered == 1
    registry.register("cam", Collector(), mode="encoded")
    assert registry.mode("cam") == "encoded" and registered == ["cam"]
    registry.set_mode("cam", "both")  # a decoder starting now: ask for a keyframe again
    assert registry.mode("cam") == "both" and registered == ["cam", "cam"]
    with pytest.raises(ValueError, match="mode"):
        registry.register("other", Collector(), mode="loud")  # type: ignore[arg-type]
    with pytest.raises(InvalidTrackId):
        registry.register("white space", Collector())
    registry.deliver_off_track(PEER, b"\x80\x60")
    assert registry.stats.off_track == 1
    assert registry.unregister("cam") and not registry.unregister("cam")
    await registry.close()


async def test_a_failing_callback_is_reported_and_the_track_goes_on() -> None:
    errors: list[str] = []
    registry = MediaFrameRegistry(on_error=lambda exc, where: errors.append(where))
    got: list[int] = []

    async def flaky(event: object, sender: ActorId) -> None:
        assert isinstance(event, MediaSample)
        if event.sequence == 1:
            raise RuntimeError("boom")
        got.append(event.sequence)

    registry.register("cam", flaky)
    for i in range(3):
        registry.deliver(PEER, sample(i))
    await drain()
    assert got == [0, 2] and registry.stats.callback_errors == 1 and "cam" in errors[0]
    await registry.close()


# ---- outbound track ---------------------------------------------------------------------


async def test_encoded_track_starts_on_a_keyframe_and_asks_for_one() -> None:
    asks: list[int] = []
    track = OutboundTrack(
        "cam", CODECS["VP8"], queue_size=4,
        on_keyframe_needed=lambda: asks.append(1), keyframe_interval=0.0,
    )
    assert not track.push(sample(0))  # a delta first: dropped, keyframe requested
    assert asks == [1]
    assert track.push(sample(1, key=True)) and track.push(sample(2))
    first = await track.recv()
    assert isinstance(first, av.Packet) and bytes(first) == KEY
    assert first.pts == 3000 and first.time_base == fractions.Fraction(1, 90000)
    for i in range(3, 10):  # overflow: flushed, waits for the next keyframe again
        track.push(sample(i))
    assert track.dropped >= 4 and len(asks) > 1
    assert track.push(sample(10, key=True))
    assert bytes(await track.recv()) == KEY
    track.finish()
    with pytest.raises(MediaStreamError):
        await track.recv()


async def test_raw_track_keeps_the_newest_frames_and_stamps_missing_pts() -> None:
    track = OutboundTrack("cam", CODECS["VP8"], queue_size=2)
    frames = [pattern_frame(256, 64, i) for i in range(3)]
    frames[2].pts = None
    for frame in frames:
        track.push(frame)
    assert track.dropped == 1
    assert (await track.recv()) is frames[1]
    last = await track.recv()
    assert last is frames[2] and last.pts is not None
    assert last.time_base == fractions.Fraction(1, 90000)
    with pytest.raises(UnsupportedCodec, match="cannot mix"):
        track.push(sample(0, key=True))
    with pytest.raises(UnsupportedCodec, match="video"):
        track.push(next(tone_frames(440)))


async def test_audio_frames_are_converted_for_opus() -> None:
    track = OutboundTrack("mic", CODECS["OPUS"])
    planar = av.AudioFrame(format="fltp", layout="mono", samples=960)
    for plane in planar.planes:
        plane.update(bytes(plane.buffer_size))
    planar.sample_rate = 48000
    track.push(planar)
    out = await asyncio.wait_for(track.recv(), 1)
    assert out.format.name == "s16" and out.layout.name == "stereo"
    with pytest.raises(UnsupportedCodec, match="VP8"):
        track.push(sample(0, key=True))  # an encoded VP8 frame on an Opus track
