"""The aiortc seam of media forwarding, exercised on real peer connections.

If an aiortc upgrade moves any internal the relay relies on, these fail:
check_supported refuses the version or the changed source, and the
functional tests show the seam no longer doing its job.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import av
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcconfiguration import RTCBundlePolicy

from actr_py.errors import ConfigError
from actr_py.media.codecs import CODECS, MediaKind, is_keyframe
from actr_py.media.outbound import OutboundTrack
from actr_py.media.sample import MediaSample
from actr_py.media.testpattern import luma_difference, pattern_frame, read_code
from actr_py.wire.webrtc import media_seam
from actr_py.wire.webrtc.gathering import restrict_gathering
from actr_py.wire.webrtc.media_sdp import remap_payload_types
from actr_py.wire.webrtc.media_seam import (
    check_supported,
    hook_keyframe_requests,
    send_pli,
    tap_receiver,
)
from tests.wire.webrtc._support import wait_until

pytestmark = pytest.mark.slow


class Pattern(MediaStreamTrack):
    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    async def recv(self) -> av.VideoFrame:
        await asyncio.sleep(1 / 30)
        frame = pattern_frame(320, 240, self.n)
        self.n += 1
        return frame


async def connect(sender: RTCPeerConnection, receiver: RTCPeerConnection) -> None:
    restrict_gathering(sender, ["127.0.0.1"])
    offer = await sender.createOffer()  # numbered as our negotiator numbers offers
    await sender.setLocalDescription(
        RTCSessionDescription(sdp=remap_payload_types(offer.sdp), type="offer")
    )
    await receiver.setRemoteDescription(sender.localDescription)
    restrict_gathering(receiver, ["127.0.0.1"])
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)


@pytest.fixture
async def pcs() -> AsyncIterator[list[RTCPeerConnection]]:
    made: list[RTCPeerConnection] = []
    config = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)

    def make() -> RTCPeerConnection:
        pc = RTCPeerConnection(config)
        made.append(pc)
        return pc

    yield [make() for _ in range(4)]
    for pc in made:
        await pc.close()


def test_installed_aiortc_is_supported() -> None:
    check_supported()


def test_untested_aiortc_version_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"aiortc 1\.99\.0 is untested.*TESTED_AIORTC"):
        check_supported("1.99.0")


def test_changed_internals_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media_seam, "_source", lambda fn: "")
    with pytest.raises(ConfigError, match=r"changed its RTP internals.*jitter_buffer"):
        check_supported()


async def test_tap_gets_encoded_frames_and_decides_about_decoding(pcs) -> None:
    sender, receiver = pcs[0], pcs[1]
    sender.addTransceiver(Pattern(), direction="sendonly")
    frames: list[tuple[int, bytes, int]] = []
    decode = False
    remote: list[MediaStreamTrack] = []

    def sink(payload_type: int, ssrc: int, data: bytes, rtp_timestamp: int) -> bool:
        frames.append((payload_type, data, rtp_timestamp))
        return decode

    def on_track(track: MediaStreamTrack) -> None:
        (transceiver,) = receiver.getTransceivers()
        tap_receiver(transceiver.receiver, sink)
        with pytest.raises(ValueError, match="already tapped"):
            tap_receiver(transceiver.receiver, sink)
        remote.append(track)

    receiver.on("track", on_track)
    await connect(sender, receiver)
    await wait_until(lambda: len(frames) >= 10)
    assert {pt for pt, _, _ in frames} == {96}  # our offer's reference payload type ...
    assert is_keyframe("VP8", frames[0][1])  # ... and the stream starts on a keyframe
    assert any(not is_keyframe("VP8", data) for _, data, _ in frames[1:])
    stamps = [ts for _, _, ts in frames]
    assert all(b - a in range(2900, 3100) for a, b in itertools.pairwise(stamps))
    # Nothing was handed to the decoder: the remote track yields no frame.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(remote[0].recv(), 0.3)
    # Ask for a keyframe with our own PLI; from now on, let aiortc decode too.
    decode = True
    (transceiver,) = receiver.getTransceivers()
    await send_pli(transceiver.receiver, receiver_ssrc(frames, transceiver))
    decoded = await asyncio.wait_for(remote[0].recv(), 5)
    index, _ = read_code(decoded)
    assert luma_difference(decoded, pattern_frame(320, 240, index)) < 3


def publisher_frames(pc: RTCPeerConnection) -> int:
    track = pc.getTransceivers()[0].sender.track
    assert isinstance(track, Pattern)
    return track.n


def receiver_ssrc(frames: list, transceiver) -> int:
    (source,) = transceiver.receiver.getSynchronizationSources()
    return source.source


async def test_forwarding_encoded_frames_with_keyframe_requests_upstream(pcs) -> None:
    """publisher -> [relay in | relay out] -> viewer, without decoding in the middle."""
    publisher, relay_in, relay_out, viewer = pcs
    publisher_sender = publisher.addTransceiver(Pattern(), direction="sendonly").sender
    upstream_plis: list[int] = []
    hook_keyframe_requests(publisher_sender, lambda: upstream_plis.append(1))
    state: dict[str, object] = {}

    async def ask_upstream() -> None:
        await send_pli(state["receiver"], state["ssrc"])  # type: ignore[arg-type]

    # A forwarded track starts on a keyframe; while it waits it asks for one.
    forward = OutboundTrack(
        "fwd", CODECS["VP8"], on_keyframe_needed=lambda: asyncio.ensure_future(ask_upstream())
    )

    def sink(payload_type: int, ssrc: int, data: bytes, rtp_timestamp: int) -> bool:
        state["ssrc"] = ssrc
        if "forwarding" not in state:
            return False
        forward.push(
            MediaSample("fwd", MediaKind.VIDEO, "VP8", rtp_timestamp, 90000, 0, data=data,
                        keyframe=is_keyframe("VP8", data))
        )
        return False

    def on_relay_track(track: MediaStreamTrack) -> None:
        (transceiver,) = relay_in.getTransceivers()
        state["receiver"] = transceiver.receiver
        tap_receiver(transceiver.receiver, sink)

    relay_in.on("track", on_relay_track)
    await connect(publisher, relay_in)
    await wait_until(lambda: "ssrc" in state)
    await asyncio.sleep(0.3)  # the viewer joins late: the first keyframe is long gone
    relay_sender = relay_out.addTransceiver(forward, direction="sendonly").sender
    viewer_plis: list[int] = []
    hook_keyframe_requests(
        relay_sender,
        lambda: (viewer_plis.append(1), asyncio.ensure_future(ask_upstream())),
    )
    viewed: list[av.VideoFrame] = []
    readers: list[asyncio.Task[None]] = []

    def on_viewer_track(track: MediaStreamTrack) -> None:
        async def read() -> None:
            while True:
                try:
                    viewed.append(await track.recv())
                except MediaStreamError:
                    return

        readers.append(asyncio.ensure_future(read()))

    viewer.on("track", on_viewer_track)
    joined_at = publisher_frames(publisher)
    assert not upstream_plis
    state["forwarding"] = True
    await connect(relay_out, viewer)
    await wait_until(lambda: len(viewed) >= 5)
    assert upstream_plis, "the publisher never got a keyframe request"
    first_index, _ = read_code(viewed[0])
    assert first_index >= joined_at  # a fresh keyframe, not the stream's first
    for frame in viewed[:5]:
        index, _ = read_code(frame)
        assert luma_difference(frame, pattern_frame(320, 240, index)) < 3
    # A PLI from the viewer reaches the relay's hook and, through it, the publisher.
    before = len(upstream_plis)
    viewer_receiver = viewer.getTransceivers()[0].receiver
    (source,) = viewer_receiver.getSynchronizationSources()
    await send_pli(viewer_receiver, source.source)
    await wait_until(lambda: viewer_plis and len(upstream_plis) > before)
