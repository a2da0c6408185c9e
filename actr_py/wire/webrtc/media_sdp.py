"""SDP for media tracks: reference payload types in our offers; what a peer sent.

Payload types. actr's reference numbers are VP8 = 96, H264 = 102 and
Opus = 111 (what browsers use too). aiortc numbers its codecs itself (Opus
96, VP8 97, H264 99 and 101) and offers no way to choose, but an answerer
adopts the offerer's dynamic payload types (RFC 3264 §6.1; aiortc does in
``find_common_codecs``, browsers do), so it is enough that *our offers* carry
the reference numbers. :func:`remap_payload_types` rewrites an offer's
audio/video sections before ``setLocalDescription``: the ``m=`` format list,
``a=rtpmap``, ``a=fmtp`` (including an RTX ``apt=``) and ``a=rtcp-fb``.
aiortc builds the sender's and receiver's parameters from the *answer*,
which echoes these numbers, so what is negotiated is what goes on the wire.

Track identity. Each sending transceiver announces ``a=msid:<stream>
<track>``; aiortc takes ``<track>`` from the sending MediaStreamTrack's id,
and the receiving aiortc names its RemoteStreamTrack after it. actr_py sets
that id to the actr track id, so the mapping from an RTP track to its actr
track id travels in the SDP that negotiated it (RFC 8830), visible to any
WebRTC peer, a browser included. :func:`negotiated_codecs` reads the codec
table of one ``mid`` from a description, to name the codec of arriving packets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiortc.sdp import SessionDescription as ParsedSdp

__all__ = [
    "H264_PROFILE",
    "REFERENCE_PAYLOAD_TYPES",
    "NegotiatedCodec",
    "negotiated_codecs",
    "remap_payload_types",
]

#: The H264 profile we offer: constrained baseline, level 3.1, packetization mode 1.
H264_PROFILE = "42e01f"

#: (codec name, payload type); each video codec's RTX takes the next number.
REFERENCE_PAYLOAD_TYPES: Mapping[str, int] = {"VP8": 96, "H264": 102, "OPUS": 111}

_DYNAMIC = range(96, 128)
_ATTR = re.compile(r"^a=(rtpmap|fmtp|rtcp-fb):(\d+|\*)(\s.*)?$")


@dataclass(frozen=True, slots=True)
class NegotiatedCodec:
    """One payload type of a negotiated media section."""

    payload_type: int
    name: str  # upper case, e.g. "VP8", "OPUS", "RTX"
    clock_rate: int
    channels: int | None = None
    parameters: Mapping[str, object] = field(default_factory=dict)


@dataclass
class _Section:
    fmt: list[int]
    names: dict[int, str] = field(default_factory=dict)
    fmtp: dict[int, str] = field(default_factory=dict)


def _params(text: str) -> dict[str, str]:
    out = {}
    for item in text.split(";"):
        key, _, value = item.strip().partition("=")
        if key:
            out[key.lower()] = value.strip()
    return out


def _targets(section: _Section) -> dict[int, int]:
    """Old payload type -> reference one, for the codecs that have one."""
    wanted: dict[int, int] = {}
    for pt in section.fmt:
        name = section.names.get(pt, "")
        if name == "VP8":
            wanted.setdefault(pt, REFERENCE_PAYLOAD_TYPES["VP8"])
        elif name == "OPUS":
            wanted.setdefault(pt, REFERENCE_PAYLOAD_TYPES["OPUS"])
        elif name == "H264":
            params = _params(section.fmtp.get(pt, ""))
            if (
                params.get("packetization-mode") == "1"
                and params.get("profile-level-id", "").lower() == H264_PROFILE
                and REFERENCE_PAYLOAD_TYPES["H264"] not in wanted.values()
            ):
                wanted[pt] = REFERENCE_PAYLOAD_TYPES["H264"]
    for pt in section.fmt:
        if section.names.get(pt) == "RTX":
            apt = _params(section.fmtp.get(pt, "")).get("apt", "")
            if apt.isdigit() and int(apt) in wanted:
                wanted[pt] = wanted[int(apt)] + 1
    return wanted


def _mapping(section: _Section) -> dict[int, int]:
    wanted = _targets(section)
    taken = set(wanted.values())
    mapping = dict(wanted)
    free = (pt for pt in _DYNAMIC if pt not in taken and pt not in section.fmt)
    for pt in section.fmt:
        if pt in mapping:
            continue
        if pt in taken:  # a codec without a reference number sits on one: move it
            try:
                mapping[pt] = next(free)
            except StopIteration:
                raise ValueError("SDP media section has no free dynamic payload type") from None
        else:
            mapping[pt] = pt
        taken.add(mapping[pt])
    return mapping


def _rewrite(lines: list[str], start: int, end: int) -> None:
    section = _Section(fmt=[int(x) for x in lines[start].split()[3:] if x.isdigit()])
    for line in lines[start + 1 : end]:
        m = _ATTR.match(line)
        if m is None or m.group(2) == "*":
            continue
        pt, rest = int(m.group(2)), (m.group(3) or "").strip()
        if m.group(1) == "rtpmap":
            section.names[pt] = rest.split("/")[0].upper()
        elif m.group(1) == "fmtp":
            section.fmtp[pt] = rest
    mapping = _mapping(section)
    if all(old == new for old, new in mapping.items()):
        return
    head = lines[start].split()
    fmt = [str(mapping.get(int(x), x)) if x.isdigit() else x for x in head[3:]]
    lines[start] = " ".join(head[:3] + fmt)
    for i in range(start + 1, end):
        m = _ATTR.match(lines[i])
        if m is None or m.group(2) == "*":
            continue
        pt = int(m.group(2))
        rest = m.group(3) or ""
        if m.group(1) == "fmtp" and section.names.get(pt) == "RTX":
            rest = re.sub(r"apt=(\d+)", lambda a: f"apt={mapping.get(int(a[1]), a[1])}", rest)
        lines[i] = f"a={m.group(1)}:{mapping.get(pt, pt)}{rest}"


def remap_payload_types(sdp: str) -> str:
    """``sdp`` with VP8, H264 (packetization mode 1, 42e01f) and Opus on the
    reference payload types, their RTX on the next ones, and any other codec
    moved out of their way. Sections other than audio/video are untouched."""
    newline = "\r\n" if "\r\n" in sdp else "\n"
    lines = sdp.split(newline)
    starts = [i for i, line in enumerate(lines) if line.startswith("m=")]
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        kind = lines[start][2:].split(" ", 1)[0]
        if kind in ("audio", "video"):
            _rewrite(lines, start, end)
    return newline.join(lines)


def negotiated_codecs(sdp: str, mid: str) -> dict[int, NegotiatedCodec]:
    """Payload type -> codec of the media section ``mid`` in ``sdp`` (empty if absent)."""
    parsed = ParsedSdp.parse(sdp)
    for media in parsed.media:
        if media.rtp.muxId == mid:
            return {
                codec.payloadType: NegotiatedCodec(
                    payload_type=codec.payloadType,
                    name=codec.name.upper(),
                    clock_rate=codec.clockRate,
                    channels=codec.channels,
                    parameters=dict(codec.parameters),
                )
                for codec in media.rtp.codecs
            }
    return {}
