"""The codecs actr media carries, and what we need to know about each.

VP8, H264 and Opus on actr's reference payload types (96, 102, 111; see
:mod:`actr_py.wire.webrtc.media_sdp`). A track is negotiated with exactly one
of them (plus RTX for video): the transceiver's codec preferences list only
that codec, so "codec" on a track means the same thing at both ends.

Keyframe detection reads the first bytes of an encoded frame as assembled by
the RTP depayloader (the VP8 payload header, H264 Annex B NAL units); a relay
needs it to start a new subscriber on a keyframe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from aiortc import RTCRtpCodecCapability, RTCRtpSender

from ..wire.webrtc.media_sdp import H264_PROFILE, REFERENCE_PAYLOAD_TYPES
from .errors import UnsupportedCodec

__all__ = ["CODECS", "CodecSpec", "MediaKind", "codec_spec", "is_keyframe"]


class MediaKind(StrEnum):
    AUDIO = "audio"
    VIDEO = "video"


@dataclass(frozen=True, slots=True)
class CodecSpec:
    """One codec: its SDP identity and the payload type actr gives it."""

    name: str  # "VP8", "H264", "OPUS": as named in SDP, upper case
    kind: MediaKind
    mime_type: str
    payload_type: int
    clock_rate: int
    channels: int | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)

    def preferences(self) -> list[RTCRtpCodecCapability]:
        """Codec preferences for a transceiver that must carry only this codec."""
        caps = RTCRtpSender.getCapabilities(self.kind.value).codecs
        chosen = [
            c for c in caps
            if c.mimeType.lower() == self.mime_type.lower()
            and all(c.parameters.get(k) == v for k, v in self.parameters.items())
        ]
        if not chosen:
            raise UnsupportedCodec(f"aiortc offers no {self.name} with {dict(self.parameters)}")
        rtx = [c for c in caps if c.mimeType.lower().endswith("/rtx")]
        return chosen[:1] + rtx[:1]


CODECS: Mapping[str, CodecSpec] = {
    "VP8": CodecSpec("VP8", MediaKind.VIDEO, "video/VP8", REFERENCE_PAYLOAD_TYPES["VP8"], 90000),
    "H264": CodecSpec(
        "H264",
        MediaKind.VIDEO,
        "video/H264",
        REFERENCE_PAYLOAD_TYPES["H264"],
        90000,
        parameters={"packetization-mode": "1", "profile-level-id": H264_PROFILE},
    ),
    "OPUS": CodecSpec(
        "OPUS", MediaKind.AUDIO, "audio/opus", REFERENCE_PAYLOAD_TYPES["OPUS"], 48000, 2
    ),
}


def codec_spec(name: str, kind: MediaKind | str | None = None) -> CodecSpec:
    """The codec called ``name`` (any case); UnsupportedCodec if unknown or of another kind."""
    spec = CODECS.get(name.upper()) if isinstance(name, str) else None
    if spec is None:
        raise UnsupportedCodec(
            f"codec {name!r} is not carried; use one of {', '.join(CODECS)}"
        )
    if kind is not None:
        try:
            wanted = MediaKind(kind)
        except ValueError:
            raise UnsupportedCodec(f"media kind {kind!r} is neither audio nor video") from None
        if spec.kind is not wanted:
            raise UnsupportedCodec(f"{spec.name} is a {spec.kind} codec, not {wanted}")
    return spec


def _h264_has_idr(data: bytes) -> bool:
    i = data.find(b"\x00\x00\x01")
    while i != -1 and i + 3 < len(data):
        nal_type = data[i + 3] & 0x1F
        if nal_type in (5, 7):  # IDR slice, or the SPS that precedes one
            return True
        i = data.find(b"\x00\x00\x01", i + 3)
    return False


def is_keyframe(codec: str, data: bytes) -> bool:
    """Whether an encoded frame can be decoded on its own.

    VP8: the payload header's P bit is 0 (RFC 6386 §9.1). H264: it holds an
    IDR slice or an SPS. Audio frames always are.
    """
    if not data:
        return False
    name = codec.upper()
    if name == "VP8":
        return not data[0] & 0x01
    if name == "H264":
        return _h264_has_idr(data)
    return True
