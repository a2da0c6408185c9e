"""Reference payload types in our offers, and reading codecs back: pure SDP text."""

from __future__ import annotations

import re

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from actr_py.media.codecs import CODECS, is_keyframe
from actr_py.wire.webrtc.media_sdp import negotiated_codecs, remap_payload_types


def sections(sdp: str) -> list[list[str]]:
    lines = sdp.split("\r\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("m=")]
    return [lines[a:b] for a, b in zip(starts, [*starts[1:], len(lines)], strict=True)]


def rtpmap(section: list[str]) -> dict[int, str]:
    out = {}
    for line in section:
        m = re.match(r"a=rtpmap:(\d+) ([^/]+)", line)
        if m:
            out[int(m[1])] = m[2].upper()
    return out


def fmtp(section: list[str]) -> dict[int, str]:
    return {
        int(m[1]): m[2] for line in section if (m := re.match(r"a=fmtp:(\d+) (.*)", line))
    }


async def aiortc_offer() -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTransceiver("video", direction="sendonly")
        pc.addTransceiver("audio", direction="sendonly")
        pc.createDataChannel("x")
        return (await pc.createOffer()).sdp
    finally:
        await pc.close()


async def test_offer_gets_reference_payload_types_consistently() -> None:
    original = await aiortc_offer()
    video_before, _audio_before, _ = sections(original)
    assert rtpmap(video_before).get(96) != "VP8"  # aiortc's own numbering differs
    remapped = remap_payload_types(original)
    video, audio, application = sections(remapped)
    names = rtpmap(video)
    assert names[96] == "VP8" and names[102] == "H264" and rtpmap(audio)[111] == "OPUS"
    params = fmtp(video)
    assert "profile-level-id=42e01f" in params[102]
    assert params[97] == "apt=96" and params[103] == "apt=102"
    # Every codec kept, every payload type unique, the m= line lists exactly the rtpmaps.
    assert sorted(names.values()) == sorted(rtpmap(video_before).values())
    for section in (video, audio):
        fmt = [int(x) for x in section[0].split()[3:]]
        assert len(set(fmt)) == len(fmt) and set(fmt) == set(rtpmap(section))
        for line in section:
            if m := re.match(r"a=rtcp-fb:(\d+) ", line):
                assert int(m[1]) in fmt
        apts = [int(v[4:]) for v in fmtp(section).values() if v.startswith("apt=")]
        assert set(apts) <= set(fmt)
    assert application == sections(original)[2]  # the DataChannel section is untouched
    assert remap_payload_types(remapped) == remapped  # idempotent


def test_a_foreign_codec_on_a_reference_number_is_moved_out_of_the_way() -> None:
    sdp = "\r\n".join([
        "v=0",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 100 101",
        "a=mid:0",
        "a=rtpmap:96 AV1/90000",
        "a=rtcp-fb:96 nack",
        "a=rtpmap:100 VP8/90000",
        "a=rtpmap:101 rtx/90000",
        "a=fmtp:101 apt=100",
        "",
    ])
    video = sections(remap_payload_types(sdp))[0]
    names = rtpmap(video)
    assert names[96] == "VP8" and names[97] == "RTX" and fmtp(video)[97] == "apt=96"
    (av1,) = [pt for pt, name in names.items() if name == "AV1"]
    assert av1 not in (96, 97) and f"a=rtcp-fb:{av1} nack" in video


async def test_negotiated_codecs_names_each_payload_type_of_a_mid() -> None:
    sdp = remap_payload_types(await aiortc_offer())
    video = negotiated_codecs(sdp, "0")
    assert video[96].name == "VP8" and video[96].clock_rate == 90000
    assert video[102].parameters["profile-level-id"] == "42e01f"
    audio = negotiated_codecs(sdp, "1")
    assert audio[111].name == "OPUS" and audio[111].channels == 2
    assert negotiated_codecs(sdp, "no-such-mid") == {}


@pytest.mark.parametrize(
    ("codec", "data", "key"),
    [
        ("VP8", bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A]), True),  # P bit clear
        ("VP8", bytes([0x11, 0x02, 0x00]), False),
        ("H264", b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x00\x01\x65\x88", True),  # SPS, IDR
        ("H264", b"\x00\x00\x00\x01\x41\x9a", False),  # non-IDR slice
        ("OPUS", b"\xfc\x01", True),
        ("VP8", b"", False),
    ],
)
def test_keyframes_are_recognised_from_the_bitstream(codec: str, data: bytes, key: bool) -> None:
    assert is_keyframe(codec, data) is key


def test_codec_table_matches_the_reference() -> None:
    assert {name: spec.payload_type for name, spec in CODECS.items()} == {
        "VP8": 96, "H264": 102, "OPUS": 111
    }
    assert [c.mimeType for c in CODECS["VP8"].preferences()] == ["video/VP8", "video/rtx"]
    (h264, _rtx) = CODECS["H264"].preferences()
    assert h264.parameters["profile-level-id"] == "42e01f"
    assert [c.mimeType for c in CODECS["OPUS"].preferences()] == ["audio/opus"]
